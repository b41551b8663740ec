"""Which certificate role may call which matcher RPC (deny by default; docs/authorization.md).

The interceptor in `services.common.authz` checks this table before any handler runs. Finer
rules that need data live in the core and are listed in docs/authorization.md: a gateway's
organisation must be a registered partner, it may submit only the signal types its partner kind
may emit under the purposes registered for it, only municipality gateways send household links,
a gateway sees and answers only its own reveal requests, a wijkteam sees only the alerts of
policies that name it as recipient (others get NOT_FOUND), and the officer rules below.

Officer authority follows the organisation (ADR 0013): publishing, revoking, simulating and the
fairness report are for the privacy officers of the controller's organisation only
(`controller_refusal`); an officer of a partner organisation may read policies and sees only
its own organisation's part of the audit log (`services.matcher.visibility`).
"""

from __future__ import annotations

from services.common.authz import RoleTable

GATEWAY = "gateway"
WIJKTEAM = "wijkteam"
PRIVACY_OFFICER = "privacy_officer"

_PARTNER = "/samenloop.v1.PartnerService/"
_WIJKTEAM = "/samenloop.v1.WijkteamService/"
_POLICY = "/samenloop.v1.PolicyService/"
_AUDIT = "/samenloop.v1.AuditService/"


def _only(*roles: str) -> frozenset[str]:
    return frozenset(roles)


def is_controller_officer(organisation: str, role: str, controller: str) -> bool:
    """A privacy officer of the controller's organisation (an empty controller: nobody)."""
    return bool(controller) and role == PRIVACY_OFFICER and organisation == controller


def controller_refusal(organisation: str, role: str, controller: str, action: str) -> str | None:
    """Why this caller may not `action` (None when it may): only the controller's officers."""
    if is_controller_officer(organisation, role, controller):
        return None
    if not controller:
        return (f"this matcher has no `controller` configured, so nobody may {action}; set "
                "the controller's organisation id in the matcher configuration")
    return (f"only privacy officers of the controller {controller} may {action}; your "
            f"certificate is {role} of {organisation}")


ROLE_TABLE: RoleTable = {
    **{
        _PARTNER + m: _only(GATEWAY)
        for m in (
            "SubmitSignals",
            "WithdrawSignals",
            "SubmitHouseholdLinks",
            "CreateInquiry",
            "PullRevealRequests",
            "SubmitDisclosure",
        )
    },
    **{
        _WIJKTEAM + m: _only(WIJKTEAM)
        for m in (
            "ListAlerts",
            "StreamAlerts",
            "GetAlert",
            "AssignAlert",
            "ReviewAlert",
            "CloseAlert",
            "ReportUnverifiedDisclosure",
        )
    },
    _POLICY + "PublishPolicy": _only(PRIVACY_OFFICER),
    _POLICY + "RevokePolicy": _only(PRIVACY_OFFICER),
    _POLICY + "GetPolicy": _only(PRIVACY_OFFICER, GATEWAY),
    _POLICY + "ListPolicies": _only(PRIVACY_OFFICER, GATEWAY),
    _POLICY + "SimulatePolicy": _only(PRIVACY_OFFICER),
    _POLICY + "GetFairnessReport": _only(PRIVACY_OFFICER),
    _AUDIT + "ListAuditEntries": _only(PRIVACY_OFFICER),
    _AUDIT + "LookupSubject": _only(PRIVACY_OFFICER),
    _AUDIT + "GetCheckpoint": _only(PRIVACY_OFFICER, GATEWAY),
    _AUDIT + "ListCheckpoints": _only(PRIVACY_OFFICER, GATEWAY),
    _AUDIT + "GetInclusionProof": _only(PRIVACY_OFFICER, GATEWAY),
    _AUDIT + "GetConsistencyProof": _only(PRIVACY_OFFICER, GATEWAY),
    _AUDIT + "AddCosignature": _only(GATEWAY),
}
