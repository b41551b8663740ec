"""The policy text is shown only when it is the signed version the alert names, for this team."""

from __future__ import annotations

import copy
import json

from policies.canonical import policy_digest
from services.wijkteam.policy_view import policy_info
from tests.matcher.helpers import Pki, policy_document
from tests.wijkteam.helpers import TEAM


def _info(doc: dict, digest: str, pki: Pki) -> object:
    return policy_info(json.dumps(doc).encode(), policy_id=doc["id"], version=doc["version"],
                       digest=digest, team=TEAM, team_public_key=pki.team_public_key(TEAM))


def test_the_named_version_for_this_team_is_shown(pki: Pki) -> None:
    doc = policy_document(pki, id="p", scope={"municipality": "GM0599", "areas": ["3071"]})
    info = _info(doc, policy_digest(doc), pki)
    assert info.verified and info.title == "Samenloop test policy"
    assert info.legal_basis == ("Wet aanpak meervoudige problematiek sociaal domein (Wams), "
                                "art. 2 en 3",)
    assert info.area == "GM0599: 3071"
    assert info.disclosure["housing"] == ("postcode", "huisnummer", "geslachtsnaam")


def test_a_changed_text_or_another_recipient_is_not_shown(pki: Pki) -> None:
    doc = policy_document(pki, id="p")
    digest = policy_digest(doc)
    changed = copy.deepcopy(doc)
    changed["purpose"] = "Something else entirely, to mislead the team about the purpose."
    assert not _info(changed, digest, pki).verified  # text differs from the signed digest
    other_team = copy.deepcopy(doc)
    other_team["recipient"]["team_id"] = "wijkteam-noord"
    assert not _info(other_team, policy_digest(other_team), pki).verified
    other_key = copy.deepcopy(doc)
    other_key["recipient"]["public_key"] = "A" * 43 + "="
    assert not _info(other_key, policy_digest(other_key), pki).verified
    stub = policy_info(b"not json", policy_id="p", version=1, digest=digest, team=TEAM,
                       team_public_key=pki.team_public_key(TEAM))
    assert not stub.verified and stub.title == "" and stub.policy_id == "p"
