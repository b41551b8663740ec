"""Test helpers: the dev PKI, signed policy documents, a matcher built from PKI files."""

from __future__ import annotations

import base64
import copy
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from crypto.checkpoint import NoteSigner
from crypto.keys import load_hmac_key, load_signing_key
from crypto.signing import SigningKey
from domain.catalogue import load_catalogue
from policies.approvals import sign_policy, with_approval
from policies.model import ApprovalRole, parse_policy
from policies.trust_file import TrustFile
from services.common.tls import TlsMaterial
from services.matcher.clock import Clock
from services.matcher.policy_registry import PolicyRegistry
from services.matcher.service import Matcher
from services.matcher.settings import MatcherSettings

TEAM = "wijkteam-feijenoord"
OTHER_TEAM = "wijkteam-noord"
HOUSING = "woonstad-rotterdam"
POLICE = "politie-rotterdam"
GGZ = "ggz-delfland"
MUNICIPALITY = "gemeente-rotterdam"
WAMS = "wams-gecoordineerde-aanpak"
WGS = "wgs-vroegsignalering"


@dataclass(frozen=True)
class Pki:
    dir: Path
    manifest: dict[str, Any]
    trust: Path
    dev: Any = None
    """The shared `tests.support.services.DevPki` this one extends."""

    def component(self, name: str) -> dict[str, Any]:
        comp: dict[str, Any] = self.manifest["components"][name]
        return comp

    def tls(self, name: str) -> TlsMaterial:
        comp = self.component(name)
        return TlsMaterial(self.dir / "ca" / "ca.crt", self.dir / comp["certificate"],
                           self.dir / comp["tls_key"])

    def key_file(self, component: str, purpose: str) -> Path:
        return self.dir / self.component(component)["keys"][purpose]["file"]

    def signing_key(self, component: str) -> SigningKey:
        return load_signing_key(self.key_file(component, "signing"))

    def team_public_key(self, team: str = TEAM) -> str:
        comp = self.manifest["components"].get(team)
        if comp is None or "inbox" not in comp["keys"]:
            # A team without an inbox key in the dev PKI: a fixed, valid X25519 key.
            from crypto.sealing import X25519PrivateKey

            return X25519PrivateKey.generate().public_key.to_base64()
        return str(comp["keys"]["inbox"]["public"])


def build_matcher_for_test(
    engine: Engine, pki: Pki, settings: MatcherSettings, clock: Clock, trust: Path | None = None
) -> Matcher:
    """A matcher over `engine`; it follows the trust file `trust` (default: the PKI's)."""
    return Matcher(
        engine=engine,
        settings=settings,
        signing_key=pki.signing_key("matcher"),
        hmac_key=load_hmac_key(pki.key_file("matcher", "hmac")),
        registry=PolicyRegistry(TrustFile(trust or pki.trust), controller=settings.controller),
        catalogue=load_catalogue(),
        clock=clock,
        checkpoint_signer=NoteSigner(settings.audit_log.origin,
                                     load_signing_key(pki.key_file("matcher", "checkpoint"))),
    )


def policy_document(pki: Pki, **overrides: Any) -> dict[str, Any]:
    """A lint-clean policy; `trigger__x=` / `scope__x=` set nested keys."""
    doc: dict[str, Any] = {
        "id": "test-samenloop",
        "version": 1,
        "title": "Samenloop test policy",
        "legal_basis": [{"citation": "Wet aanpak meervoudige problematiek sociaal domein "
                                     "(Wams), art. 2 en 3"}],
        "purpose": "Find households with problems in several life domains early, for tests.",
        "processing_activity_id": "GM0599/wams-gecoordineerde-aanpak",
        "controller": "College van burgemeester en wethouders van de gemeente Rotterdam",
        "mode": "on_request",
        "purposes": [WAMS],
        "recipient": {"team_id": TEAM, "name": "Wijkteam Feijenoord",
                      "public_key": pki.team_public_key(TEAM)},
        "scope": {"municipality": "GM0599"},
        "trigger": {"window_days": 90, "min_domains": 2, "min_signals": 2},
        "disclosure": {
            "housing": ["postcode", "huisnummer", "geslachtsnaam"],
            "police": ["contactpersoon"],
            "mental_health": ["contactpersoon"],
            "municipality": ["bsn", "geslachtsnaam"],
        },
        "cooldown_days": 30,
        "retention": {"alert_days": 365},
        "valid_from": "2026-01-01",
        "valid_until": "2027-12-31",
    }
    for key, value in overrides.items():
        if "__" in key:
            section, field = key.split("__", 1)
            if value is None:
                doc[section].pop(field, None)
            else:
                doc[section][field] = value
        elif value is None:
            doc.pop(key, None)
        else:
            doc[key] = copy.deepcopy(value)
    if doc.get("mode") == "standing":
        doc.setdefault("independent_review", {
            "reviewer": "independent-reviewer", "report": "DPIA test 2026",
            "reviewed_on": "2026-01-01"})
        if "legal_basis" not in overrides:
            doc["legal_basis"] = [{"citation": "Wet gemeentelijke schuldhulpverlening, art. 3 "
                                               "lid 3 en art. 5 lid 1", "standing": True}]
        if "purposes" not in overrides:
            doc["purposes"] = [WGS]
        if "processing_activity_id" not in overrides:
            doc["processing_activity_id"] = "GM0599/wgs-vroegsignalering"
    return doc


def sign(pki: Pki, doc: dict[str, Any], officers: int = 2) -> dict[str, Any]:
    """Add approvals by `officers` privacy officers (and the reviewer for a standing policy)."""
    now = datetime.now(UTC)
    signers = [("fg-gemeente-rotterdam", ApprovalRole.PRIVACY_OFFICER),
               ("po-woonstad-rotterdam", ApprovalRole.PRIVACY_OFFICER)][:officers]
    if doc.get("mode") == "standing":
        signers.append(("independent-reviewer", ApprovalRole.INDEPENDENT_REVIEW))
    for officer, role in signers:
        policy = parse_policy(doc)
        approval = sign_policy(policy, pki.signing_key(officer), officer_id=officer, role=role,
                               now=now)
        doc = with_approval(doc, approval)
    return doc


def document_bytes(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode("utf-8")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def bsn(n: int) -> str:
    """The n-th test BSN: 8 digits from n plus the elfproef check digit (skipping n that fail)."""
    weights = (9, 8, 7, 6, 5, 4, 3, 2)
    candidate = 10_000_000 + n * 7
    while True:
        digits = f"{candidate:08d}"
        check = sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11
        if check < 10:
            return digits + str(check)
        candidate += 1


def address(n: int, postcode: str = "3071AB") -> str:
    return f"{postcode} {n}"
