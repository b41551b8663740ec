"""Fixtures for the matcher tests: a dev PKI, the real pseudonymiser, a matcher on loopback.

Every end-to-end test talks to a real matcher server over mTLS through its gRPC API, with
pseudonyms made by the real pseudonymiser service (VOPRF with the batch DLEQ proof verified)
and certificates from `crypto.devsetup` (what `samenloop pki dev-setup` writes). `matcher` uses
the suite's `db_url` fixture, so each such test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml

from crypto.devsetup import issue_component, load_ca
from crypto.keys import KeyKind, generate_key_file, load_signing_key
from policies.revocation import sign_revocation
from samenloop.v1 import (
    audit_pb2_grpc,
    policy_pb2,
    policy_pb2_grpc,
    wijkteam_pb2,
    wijkteam_pb2_grpc,
)
from services.common.db import create_engine, migrate
from services.common.logging import configure_logging
from services.common.tls import secure_channel
from services.matcher.clock import SettableClock, SystemClock
from services.matcher.config import MIGRATIONS
from services.matcher.server import MatcherServer, serve
from services.matcher.service import Matcher
from services.matcher.settings import MatcherSettings, PartnerEntry
from tests.matcher.client import GatewayTestClient, Pseudonymiser
from tests.matcher.helpers import (
    TEAM,
    Pki,
    build_matcher_for_test,
    document_bytes,
    policy_document,
    sign,
)
from tests.support.services import make_pki, pseudonymiser_config, start_pseudonymiser

OFFICER = "fg-gemeente-rotterdam"
"""A privacy officer of the controller (the municipality)."""
PARTNER_OFFICER = "po-woonstad-rotterdam"
"""A privacy officer of a partner organisation (the housing corporation)."""
CONTROLLER = "gemeente-rotterdam"

# Extra certificate holders the dev PKI does not have: a second team, an unregistered gateway,
# a second privacy officer of the housing corporation and one of the police (partners, not the
# controller).
EXTRA = {
    "wijkteam-noord": ("wijkteam-noord", "wijkteam"),
    "gateway-onbekend": ("onbekende-partner", "gateway"),
    "po2-woonstad-rotterdam": ("woonstad-rotterdam", "privacy_officer"),
    "po-politie-rotterdam": ("politie-rotterdam", "privacy_officer"),
}

PARTNERS = {
    "woonstad-rotterdam": PartnerEntry(
        "woonstad-rotterdam", "housing",
        frozenset({"wgs-vroegsignalering", "wams-gecoordineerde-aanpak"})),
    "politie-rotterdam": PartnerEntry(
        "politie-rotterdam", "police", frozenset({"wams-gecoordineerde-aanpak"})),
    "ggz-delfland": PartnerEntry(
        "ggz-delfland", "mental_health", frozenset({"wams-gecoordineerde-aanpak"})),
    "gemeente-rotterdam": PartnerEntry(
        "gemeente-rotterdam", "municipality",
        frozenset({"wgs-vroegsignalering", "wams-gecoordineerde-aanpak"})),
}


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki") / "dev"
    dev = make_pki(directory)  # the shared fixture code: `samenloop pki dev-setup`
    manifest = dev.manifest
    ca = load_ca(directory)
    for name, (org, role) in EXTRA.items():
        _, entry = issue_component(directory, ca, name=name, organisation=org, role=role)
        if role == "privacy_officer":
            info = generate_key_file(KeyKind.ED25519, directory / name / "signing.key")
            entry["keys"]["signing"] = {"file": f"{name}/signing.key", "key_id": info.key_id,
                                        "public": info.public_base64}
        manifest["components"][name] = entry
    officers = []
    for name, comp in manifest["components"].items():
        if comp["role"] in ("privacy_officer", "independent_review"):
            officers.append({
                "officer_id": name,
                "organisation": comp["organisation"],
                "role": comp["role"],
                "public_key": comp["keys"]["signing"]["public"],
            })
    trust = directory / "officers.yaml"
    trust.write_text(yaml.safe_dump({"format": "samenloop-officers/v2", "officers": officers}))
    return Pki(directory, manifest, trust, dev)


@pytest.fixture(scope="session")
def pseudonymiser(pki: Pki) -> Iterator[Pseudonymiser]:
    """The real pseudonymiser service on loopback (VOPRF key from the dev PKI)."""
    running = start_pseudonymiser(pseudonymiser_config(pki.dev))
    voprf = pki.manifest["components"]["pseudonymiser"]["keys"]["voprf"]
    service = Pseudonymiser(running.port, base64.b64decode(voprf["public"]), voprf["key_id"])
    yield service
    service.close()
    running.stop(0)


@pytest.fixture(scope="session", autouse=True)
def _quiet_json_logs() -> None:
    configure_logging("matcher-tests", level="WARNING")


def registered_partners(pki: Pki) -> dict[str, PartnerEntry]:
    """PARTNERS, each with its gateway's disclosure key from the dev PKI registered, as
    `dev-setup` writes them into matcher.yaml (a sealed box is accepted only when signed)."""
    return {org: replace(p, disclosure_key=load_signing_key(
                pki.key_file(f"gateway-{org}", "disclosure")).verify_key)
            for org, p in PARTNERS.items()}


def settings_for(pki: Pki, pseudonymiser: Pseudonymiser, **overrides: object) -> MatcherSettings:
    values: dict[str, object] = {
        "partners": registered_partners(pki),
        "accepted_key_ids": frozenset({pseudonymiser.key_id}),
        "municipality": "GM0599",
        "controller": CONTROLLER,
    }
    values.update(overrides)
    return MatcherSettings(**values)  # type: ignore[arg-type]


class Harness:
    """A matcher server on loopback and mTLS channels for every role."""

    def __init__(self, pki: Pki, pseudonymiser: Pseudonymiser, matcher: Matcher,
                 server: MatcherServer, clock: SettableClock,
                 trust_file: Path | None = None) -> None:
        self.pki = pki
        self.trust_file = trust_file or pki.trust
        """The officer trust file this matcher follows (a test may change only its own copy)."""
        self.pseudonymiser = pseudonymiser
        self.matcher = matcher
        self.server = server
        self.clock = clock
        self._channels: list[grpc.Channel] = []

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.server.port}"

    def channel(self, component: str) -> grpc.Channel:
        ch = secure_channel(self.target, self.pki.tls(component), server_role="matcher")
        self._channels.append(ch)
        return ch

    def gateway(self, organisation: str) -> GatewayTestClient:
        name = organisation if organisation.startswith("gateway-") else f"gateway-{organisation}"
        return GatewayTestClient(self.channel(name), self.pseudonymiser,
                                 self.pki, self.matcher.signing_key.verify_key, name)

    def stub(self, component: str, stub_class: Any) -> Any:
        return stub_class(self.channel(component))

    def officer(self, component: str = OFFICER) -> Any:
        return self.stub(component, policy_pb2_grpc.PolicyServiceStub)

    def auditor(self, component: str = OFFICER) -> Any:
        return self.stub(component, audit_pb2_grpc.AuditServiceStub)

    def team(self, name: str = TEAM) -> Any:
        return self.stub(name, wijkteam_pb2_grpc.WijkteamServiceStub)

    def alert_names(self, policy_id: str, team: str = TEAM) -> list[str]:
        """The team's alerts under one policy, newest first (an inquiry's answer names none)."""
        listed = self.team(team).ListAlerts(wijkteam_pb2.ListAlertsRequest(page_size=500),
                                            timeout=10).alerts
        return [a.name for a in listed if a.policy_id == policy_id]

    def publish(self, doc: dict[str, Any]) -> Any:
        return self.officer().PublishPolicy(
            policy_pb2.PublishPolicyRequest(document=document_bytes(sign(self.pki, doc))),
            timeout=30)

    def publish_policy(self, **overrides: Any) -> Any:
        return self.publish(policy_document(self.pki, **overrides))

    def revocation(self, policy_id: str, *, signer: str = OFFICER, reason: str = "end_of_use",
                   **changes: Any) -> policy_pb2.PolicyRevocation:
        """A statement revoking the published version of `policy_id`, signed with `signer`'s
        officer key (`changes` replace fields before signing)."""
        current = self.officer().GetPolicy(
            policy_pb2.GetPolicyRequest(name=f"policies/{policy_id}"), timeout=10)
        fields = {"policy_id": current.policy_id, "version": current.version,
                  "digest": current.digest, "reason": reason, "officer_id": signer, **changes}
        statement = sign_revocation(key=self.pki.signing_key(signer), now=datetime.now(UTC),
                                    **fields)
        return policy_pb2.PolicyRevocation(
            **{k: v for k, v in statement.to_document().items() if k != "signature"},
            signature=base64.b64decode(statement.signature))

    def revoke(self, policy_id: str, *, caller: str = OFFICER, **kwargs: Any) -> Any:
        return self.officer(caller).RevokePolicy(policy_pb2.RevokePolicyRequest(
            name=f"policies/{policy_id}", revocation=self.revocation(policy_id, **kwargs)),
            timeout=10)

    def close(self) -> None:
        for ch in self._channels:
            ch.close()


@pytest.fixture
def matcher(db_url: str, pki: Pki, pseudonymiser: Pseudonymiser, tmp_path: Path
            ) -> Iterator[Harness]:
    migrate(MIGRATIONS, db_url)
    engine = create_engine(db_url)
    clock = SettableClock(SystemClock().now())
    trust = tmp_path / "officers.yaml"  # this matcher's own copy: a test may change it
    shutil.copy(pki.trust, trust)
    m = build_matcher_for_test(engine, pki, settings_for(pki, pseudonymiser), clock, trust)
    server = serve(m, bind="127.0.0.1:0", tls=pki.tls("matcher"), max_workers=8)
    harness = Harness(pki, pseudonymiser, m, server, clock, trust)
    yield harness
    harness.close()
    server.stop(0)
    engine.dispose()

