"""The officer trust file: whose signatures make a policy valid.

The matcher and every gateway are configured with the same file and verify policies themselves;
none trusts another's verdict. Format (YAML or JSON):

    format: samenloop-officers/v2
    officers:
      - officer_id: po-jansen          # as written in approvals
        organisation: gemeente-rotterdam  # the organisation id (certificate O) they act for
        name: A. Jansen (FG gemeente)  # optional, for people
        role: privacy_officer          # or independent_review
        public_key: <base64 of the 32-byte Ed25519 public key>
        key_id: ed25519:...            # optional; if given it must match the key

One officer may have several keys (rotation); a key belongs to exactly one officer and role. An
officer id has one role and one organisation: a privacy officer cannot also act as the
independent reviewer, nor for another organisation. The organisation decides an officer's
authority at the matcher (ADR 0013): only officers of the controller's organisation sign
revocations, and a policy needs an approval by one of them. To end an officer's authority,
remove their keys: their approvals and revocations then stop counting everywhere the file is
deployed (the matcher re-reads the file when it changes, see `policies.trust_file`).

Format v1 had no organisations; such a file is refused with a message saying what to add.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from crypto.errors import InvalidPublicKey
from crypto.signing import VerifyKey
from domain import safe_yaml
from domain.text_files import TextInputError, read_utf8
from policies.errors import TrustFileError
from policies.model import ApprovalRole

TRUST_FORMAT = "samenloop-officers/v2"
OLD_FORMATS = ("samenloop-officers/v1",)
_FIELDS = {"officer_id", "organisation", "name", "role", "public_key", "key_id"}


@dataclass(frozen=True)
class Officer:
    officer_id: str
    role: ApprovalRole
    key: VerifyKey
    organisation: str
    """The organisation id (client-certificate O) this officer acts for."""
    name: str = ""

    @property
    def key_id(self) -> str:
        return self.key.key_id


@dataclass(frozen=True)
class Trust:
    """Registered officer keys, by key id."""

    officers: tuple[Officer, ...]

    def by_key_id(self, key_id: str) -> Officer | None:
        for o in self.officers:
            if o.key_id == key_id:
                return o
        return None

    def of_organisation(self, organisation: str) -> tuple[Officer, ...]:
        """Every key registered for an officer of `organisation`."""
        return tuple(o for o in self.officers if o.organisation == organisation)

    def __iter__(self) -> Iterator[Officer]:
        return iter(self.officers)

    def __len__(self) -> int:
        return len(self.officers)

    def to_document(self) -> dict[str, Any]:
        return {
            "format": TRUST_FORMAT,
            "officers": [
                {
                    "officer_id": o.officer_id,
                    "organisation": o.organisation,
                    **({"name": o.name} if o.name else {}),
                    "role": o.role.value,
                    "public_key": o.key.to_base64(),
                    "key_id": o.key_id,
                }
                for o in self.officers
            ],
        }


def parse_trust(document: Any, source: str = "<trust>") -> Trust:
    """Validate a trust document. Raises `TrustFileError` naming the entry and the field."""
    if isinstance(document, Mapping) and document.get("format") in OLD_FORMATS:
        raise TrustFileError(
            f"{source}: format {document.get('format')} names no organisations; add "
            f"`organisation: <organisation id>` to every officer and set `format: {TRUST_FORMAT}`"
        )
    if not isinstance(document, Mapping) or document.get("format") != TRUST_FORMAT:
        raise TrustFileError(f"{source}: not a trust file (expected format: {TRUST_FORMAT})")
    extra = sorted(set(document) - {"format", "officers"})
    if extra:
        raise TrustFileError(f"{source}: unknown field(s) {', '.join(extra)}")
    entries = document.get("officers")
    if not isinstance(entries, list):
        raise TrustFileError(f"{source}: 'officers' must be a list")
    officers: list[Officer] = []
    roles: dict[str, ApprovalRole] = {}
    organisations: dict[str, str] = {}
    for i, entry in enumerate(entries):
        where = f"{source}: officers[{i}]"
        if not isinstance(entry, Mapping):
            raise TrustFileError(f"{where}: must be a mapping")
        extra = sorted(set(entry) - _FIELDS)
        if extra:
            raise TrustFileError(f"{where}: unknown field(s) {', '.join(extra)}")
        officer_id = entry.get("officer_id")
        if not isinstance(officer_id, str) or not officer_id:
            raise TrustFileError(f"{where}: 'officer_id' is required")
        organisation = entry.get("organisation")
        if not isinstance(organisation, str) or not organisation.strip():
            raise TrustFileError(
                f"{where} ({officer_id}): 'organisation' is required: the organisation id "
                "(certificate O) this officer acts for"
            )
        try:
            role = ApprovalRole(str(entry.get("role")))
        except ValueError:
            raise TrustFileError(
                f"{where} ({officer_id}): 'role' must be privacy_officer or independent_review"
            ) from None
        try:
            key = VerifyKey.from_base64(str(entry.get("public_key", "")))
        except InvalidPublicKey as exc:
            raise TrustFileError(f"{where} ({officer_id}): 'public_key': {exc}") from None
        declared = entry.get("key_id")
        if declared is not None and declared != key.key_id:
            raise TrustFileError(
                f"{where} ({officer_id}): key_id {declared} does not match the key ({key.key_id})"
            )
        if any(o.key_id == key.key_id for o in officers):
            raise TrustFileError(f"{where} ({officer_id}): key {key.key_id} is listed twice")
        if roles.setdefault(officer_id, role) is not role:
            raise TrustFileError(
                f"{where} ({officer_id}): an officer has one role; {officer_id} is already "
                f"registered as {roles[officer_id].value}"
            )
        if organisations.setdefault(officer_id, organisation) != organisation:
            raise TrustFileError(
                f"{where} ({officer_id}): an officer acts for one organisation; {officer_id} is "
                f"already registered for {organisations[officer_id]}"
            )
        name = entry.get("name", "")
        officers.append(Officer(officer_id, role, key, organisation, str(name)))
    return Trust(tuple(officers))


def load_trust(path: str | Path) -> Trust:
    """Read a trust file (YAML or JSON). Raises `TrustFileError`."""
    p = Path(path)
    try:
        text = read_utf8(p, max_bytes=safe_yaml.MAX_YAML_BYTES)
    except TextInputError as exc:
        where = f":{exc.line}" if exc.line else ""
        raise TrustFileError(f"{p}{where}: cannot read the trust file: {exc}") from None
    except OSError as exc:
        raise TrustFileError(f"{p}: cannot read the trust file: {exc.strerror}") from None
    try:
        document = json.loads(text) if p.suffix == ".json" else safe_yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None)
        raise TrustFileError(f"{p}{where}: not valid YAML"
                             + (f" ({problem})" if problem else "")) from None
    except ValueError as exc:
        raise TrustFileError(f"{p}: not valid JSON ({exc})") from None
    except RecursionError:
        raise TrustFileError(f"{p}: not valid JSON (nested too deeply)") from None
    return parse_trust(document, str(p))
