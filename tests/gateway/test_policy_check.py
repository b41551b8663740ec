"""The gateway's own verdict on a served policy (no services: documents signed in the test)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from policies.canonical import policy_digest
from policies.model import parse_policy
from policies.trust import Trust, load_trust
from services.partner_gateway.policy_check import PolicyFacts, check_policy
from tests.matcher.helpers import Pki, policy_document, sign
from tests.support.services import make_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    from samenloop.deploy_configs import trust_document

    dev = make_pki(tmp_path_factory.mktemp("pki") / "dev")
    trust = dev.directory / "officers.yaml"
    trust.write_text(yaml.safe_dump(trust_document(dev.manifest)))
    return Pki(dev.directory, dev.manifest, trust, dev)


def facts(doc: dict[str, Any], **override: Any) -> PolicyFacts:
    values: dict[str, Any] = dict(document_json=json.dumps(doc).encode(),
                                  digest=policy_digest(parse_policy(doc)),
                                  version=doc["version"], revoked_by_matcher=False)
    values.update(override)
    return PolicyFacts(**values)


def verdict(pki: Pki, served: PolicyFacts | None, doc: dict[str, Any],
            revoked: set[str] | None = None, trust: Trust | None = None) -> str:
    return check_policy(served, policy_id=doc["id"], version=doc["version"],
                        digest=policy_digest(parse_policy(doc)),
                        trust=trust or load_trust(pki.trust), now=datetime.now(UTC),
                        revoked_digests=revoked or set(),
                        controller="gemeente-rotterdam").reason_code


def test_each_reason_a_served_policy_does_not_count(pki: Pki, tmp_path: Path) -> None:
    good = sign(pki, policy_document(pki, id="pol-a", mode="standing"))
    assert verdict(pki, facts(good), good) == ""
    assert verdict(pki, None, good) == "policy_unknown"
    other = sign(pki, policy_document(pki, id="pol-a", mode="standing", cooldown_days=31))
    assert verdict(pki, facts(other), good) == "policy_digest_mismatch"
    one = sign(pki, policy_document(pki, id="pol-a", mode="standing"), officers=1)
    assert verdict(pki, facts(one), one) == "policy_not_approved"
    unreviewed = sign(pki, policy_document(pki, id="pol-a"))  # on_request: no review needed
    assert verdict(pki, facts(unreviewed), unreviewed) == ""
    old = sign(pki, policy_document(pki, id="pol-a", mode="standing", valid_from="2025-01-01",
                                    valid_until="2025-12-31"))
    assert verdict(pki, facts(old), old) == "policy_out_of_validity"
    assert verdict(pki, facts(good, revoked_by_matcher=True), good) == "policy_revoked"
    assert verdict(pki, facts(good), good,
                   revoked={policy_digest(parse_policy(good))}) == "policy_revoked"
    # an officer removed from the gateway's own trust file: the approvals stop counting
    trust = load_trust(pki.trust)
    fewer = Trust(tuple(o for o in trust if o.officer_id != "po-woonstad-rotterdam"))
    assert verdict(pki, facts(good), good, trust=fewer) == "policy_not_approved"
