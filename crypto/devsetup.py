"""The development key directory: a CA, a certificate per component, every role's key files.

`dev_setup(directory)` builds what a local deployment (the demo, integration tests) needs to
start every service with mTLS, and a `manifest.json` that lists every file and public key, so
tools and tests find things by name instead of by path convention. The layout is documented
in docs/crypto.md; `samenloop pki dev-setup` is the command-line shell around it.

Never use these keys for real data: every secret is generated on one machine.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from crypto._files import write_public_file
from crypto.checkpoint import NoteVerifier
from crypto.cosignature import CosignatureVerifier
from crypto.errors import PkiError
from crypto.keys import KeyInfo, KeyKind, generate_key_file
from crypto.pki import (
    DEFAULT_DNS,
    DEFAULT_IPS,
    CertifiedKey,
    component_dns_name,
    create_ca,
    identity_from_certificate,
    issue_certificate,
    load_certified_key,
    save_certified_key,
)
from crypto.signing import VerifyKey

MANIFEST: Final = "manifest.json"
MANIFEST_FORMAT: Final = "samenloop-pki-manifest/v1"
CA_DIR: Final = "ca"
CA_CERT: Final = "ca/ca.crt"
CA_KEY: Final = "ca/ca.key"
TLS_CERT: Final = "tls.crt"
TLS_KEY: Final = "tls.key"
AUDIT_LOG_ORIGIN: Final = "samenloop.local/audit"
# The matcher's operator is a processor of its own, never one of the partners (ADR 0010).
MATCHER_ORGANISATION: Final = "samenloop-verwerker"


@dataclass(frozen=True)
class Component:
    """One certificate holder and the key files its role needs (purpose -> (kind, file name))."""

    name: str
    organisation: str
    role: str
    keys: dict[str, tuple[KeyKind, str]] = field(default_factory=dict)
    partner_kind: str | None = None


def _gateway(org: str, partner_kind: str) -> Component:
    return Component(
        f"gateway-{org}",
        org,
        "gateway",
        {
            "vault": (KeyKind.VAULT, "vault.key"),
            # signs every disclosure; its .pub is registered with the matcher (partners.*)
            "disclosure": (KeyKind.ED25519, "disclosure.key"),
            # cosigns the matcher's audit checkpoints as a witness (C2SP cosignature/v1,
            # ADR 0022); its .pub is registered with the matcher (partners.*.witness_key)
            "witness": (KeyKind.ED25519, "witness.key"),
        },
        partner_kind,
    )


def _officer(name: str, org: str, role: str = "privacy_officer") -> Component:
    return Component(name, org, role, {"signing": (KeyKind.ED25519, "signing.key")})


DEV_COMPONENTS: Final[tuple[Component, ...]] = (
    Component(
        "pseudonymiser",
        "pseudonimisering-ttp",
        "pseudonymiser",
        {"voprf": (KeyKind.VOPRF, "voprf.key")},
    ),
    Component(
        "matcher",
        MATCHER_ORGANISATION,
        "matcher",
        {
            "signing": (KeyKind.ED25519, "signing.key"),
            "checkpoint": (KeyKind.ED25519, "checkpoint.key"),
            "hmac": (KeyKind.HMAC, "hmac.key"),
        },
    ),
    _gateway("woonstad-rotterdam", "housing"),
    _gateway("politie-rotterdam", "police"),
    _gateway("ggz-delfland", "mental_health"),
    _gateway("gemeente-rotterdam", "municipality"),
    _officer("fg-gemeente-rotterdam", "gemeente-rotterdam"),
    _officer("po-woonstad-rotterdam", "woonstad-rotterdam"),
    _officer("independent-reviewer", "onafhankelijke-toetsing", "independent_review"),
    Component(
        "wijkteam-feijenoord",
        "wijkteam-feijenoord",
        "wijkteam",
        {"inbox": (KeyKind.X25519, "inbox.key")},
    ),
)


def _rel(base: Path, path: Path) -> str:
    return path.relative_to(base).as_posix()


def init_ca(directory: Path) -> CertifiedKey:
    """Create `<directory>/ca/ca.crt` and `ca.key`. Refuses if a CA is already there."""
    directory = Path(directory)
    if (directory / CA_CERT).exists() or (directory / CA_KEY).exists():
        raise PkiError(
            f"a CA already exists in {directory / CA_DIR}; use it, or pick another --dir"
        )
    (directory / CA_DIR).mkdir(parents=True, exist_ok=True)
    ca = create_ca()
    save_certified_key(ca, directory / CA_CERT, directory / CA_KEY)
    return ca


def load_ca(directory: Path) -> CertifiedKey:
    directory = Path(directory)
    if not (directory / CA_CERT).exists():
        raise PkiError(
            f"no CA in {directory / CA_DIR}; run: samenloop pki init-ca --dir {directory}"
        )
    return load_certified_key(directory / CA_CERT, directory / CA_KEY)


def issue_component(
    directory: Path,
    ca: CertifiedKey,
    *,
    name: str,
    organisation: str,
    role: str,
    dns_names: Iterable[str] = DEFAULT_DNS,
    ip_addresses: Iterable[str] = DEFAULT_IPS,
    oin: str | None = None,
) -> tuple[CertifiedKey, dict[str, Any]]:
    """Issue `<directory>/<name>/tls.crt|tls.key`; returns the cert and its manifest entry.

    With `oin`, `organisation` is the legal name and the OIN is the organisation id
    (PKIoverheid layout, ADR 0003); the manifest's `organisation` is always the id.
    """
    directory = Path(directory)
    comp_dir = directory / name
    if (comp_dir / TLS_CERT).exists() or (comp_dir / TLS_KEY).exists():
        raise PkiError(f"{comp_dir} already has a certificate; remove it to issue a new one")
    leaf = issue_certificate(
        ca,
        organisation=organisation,
        role=role,
        common_name=name,
        dns_names=dns_names,
        ip_addresses=ip_addresses,
        oin=oin,
    )
    comp_dir.mkdir(parents=True, exist_ok=True)
    save_certified_key(leaf, comp_dir / TLS_CERT, comp_dir / TLS_KEY)
    ident = identity_from_certificate(leaf.certificate)
    entry: dict[str, Any] = {
        "organisation": ident.organisation,
        "organisation_name": ident.organisation_name,
        "role": role,
        "common_name": name,
        "dns_name": component_dns_name(name),
        "certificate": _rel(directory, comp_dir / TLS_CERT),
        "tls_key": _rel(directory, comp_dir / TLS_KEY),
        "fingerprint": leaf.fingerprint(),
        "keys": {},
    }
    return leaf, entry


def _key_entry(directory: Path, info: KeyInfo) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "kind": info.kind.value,
        "file": _rel(directory, info.path),
        "key_id": info.key_id,
    }
    if info.public_path is not None:
        entry["public_file"] = _rel(directory, info.public_path)
    if info.public_base64 is not None:
        entry["public"] = info.public_base64
    return entry


def read_manifest(directory: Path) -> dict[str, Any]:
    path = Path(directory) / MANIFEST
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PkiError(f"no {MANIFEST} in {directory}; run: samenloop pki dev-setup") from None
    except ValueError:
        raise PkiError(f"{path} is not valid JSON") from None
    if not isinstance(doc, dict) or doc.get("format") != MANIFEST_FORMAT:
        raise PkiError(f"{path} is not a {MANIFEST_FORMAT} document")
    return doc


def write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    write_public_file(Path(directory) / MANIFEST, text.encode("utf-8"), overwrite=True)


def new_manifest(ca: CertifiedKey) -> dict[str, Any]:
    return {
        "format": MANIFEST_FORMAT,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "warning": "development keys: never use them for real data",
        "ca": {"certificate": CA_CERT, "key": CA_KEY, "fingerprint": ca.fingerprint()},
        "components": {},
    }


def dev_setup(
    directory: Path,
    *,
    dns_names: Iterable[str] = DEFAULT_DNS,
    ip_addresses: Iterable[str] = DEFAULT_IPS,
) -> dict[str, Any]:
    """Create the whole development directory (must not exist or be empty); return the manifest.

    Each certificate carries its own `<name>.samenloop.internal` DNS name, which clients check
    (ADR 0003); `dns_names`/`ip_addresses` are added to every certificate only when given,
    since a name shared by all (such as `localhost`) would let any component pass for another.
    """
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()):
        raise PkiError(
            f"{directory} already exists and is not empty; remove it or pick another --dir"
        )
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    dns, ips = tuple(dns_names), tuple(ip_addresses)
    ca = init_ca(directory)
    manifest = new_manifest(ca)
    for comp in DEV_COMPONENTS:
        _, entry = issue_component(
            directory,
            ca,
            name=comp.name,
            organisation=comp.organisation,
            role=comp.role,
            dns_names=dns,
            ip_addresses=ips,
        )
        if comp.partner_kind is not None:
            entry["partner_kind"] = comp.partner_kind
        for purpose, (kind, filename) in comp.keys.items():
            info = generate_key_file(kind, directory / comp.name / filename)
            entry["keys"][purpose] = _key_entry(directory, info)
            if purpose == "checkpoint" and info.public_base64 is not None:
                vk = VerifyKey(base64.b64decode(info.public_base64))
                entry["keys"][purpose]["note_origin"] = AUDIT_LOG_ORIGIN
                entry["keys"][purpose]["note_vkey"] = NoteVerifier(AUDIT_LOG_ORIGIN, vk).vkey
            if purpose == "witness" and info.public_base64 is not None:
                vk = VerifyKey(base64.b64decode(info.public_base64))
                entry["keys"][purpose]["cosignature_vkey"] = CosignatureVerifier(
                    comp.organisation, vk).vkey
        manifest["components"][comp.name] = entry
    write_manifest(directory, manifest)
    return manifest
