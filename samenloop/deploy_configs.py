"""Working configuration files for a development deployment, written by `pki dev-setup`.

`write_deployment(D, manifest)` adds to the key directory D (made by `crypto.devsetup`):

    officers.yaml                    the officer trust file (every officer key, with organisation)
    audit-keys.yaml                  the audit log's checkpoint key and the partners' witness
                                     keys, for `samenloop audit verify --keys` (ADR 0022)
    pseudonymiser.yaml               `samenloop pseudonymiser serve --config D/pseudonymiser.yaml`
    matcher.yaml                     `samenloop matcher migrate|serve --config D/matcher.yaml`
    gateway-<organisation>.yaml      one per gateway (consumed by the partner gateway, issue 12)
    inbox-<team>.yaml                one per wijkteam (consumed by the inbox, issue 14)
    README.md                        the command that starts each component

Everything is derived from the manifest (organisations, roles, key ids), so the files follow
whatever identities `crypto.devsetup` issues. Paths are relative to D, so D can be moved.
Development only: the quotas and limits are generous, the keys were made on one machine.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Final

import yaml

from policies.trust import TRUST_FORMAT
from services.matcher.settings import DEFAULT_BIND as MATCHER_ADDRESS
from services.wijkteam.settings import DEFAULT_BIND as INBOX_ADDRESS

PSEUDONYMISER_ADDRESS: Final = "127.0.0.1:7401"
MUNICIPALITY: Final = "GM0599"  # Rotterdam, the dev deployment's city
TRUST_FILE: Final = "officers.yaml"
AUDIT_KEYS: Final = "audit-keys.yaml"
DEFAULT_OFFICER: Final = "fg-gemeente-rotterdam"
"""The controller's privacy officer in the dev PKI: the policy CLI's default `--tls-name`."""
README: Final = "README.md"
PURPOSES: Final = {
    "housing": ["wams-gecoordineerde-aanpak", "wgs-vroegsignalering"],
    "police": ["wams-gecoordineerde-aanpak"],
    "mental_health": ["wams-gecoordineerde-aanpak"],
    "municipality": ["wams-gecoordineerde-aanpak", "wgs-vroegsignalering"],
}
DEV_QUOTA: Final = {"daily_elements": 2_000_000, "rate_per_second": 20_000, "burst": 20_000}
_EXAMPLE_MAPPINGS: Final = {
    "housing": "woonstichting", "police": "politie", "mental_health": "ggz",
    "municipality": "gemeente",
}
_EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "partners"
OFFICER_ROLES: Final = ("privacy_officer", "independent_review")


def _components(manifest: dict[str, Any], role: str) -> dict[str, dict[str, Any]]:
    return {name: c for name, c in manifest["components"].items() if c["role"] == role}


def _only(manifest: dict[str, Any], role: str) -> tuple[str, dict[str, Any]]:
    found = _components(manifest, role)
    if len(found) != 1:
        raise ValueError(f"the manifest has {len(found)} {role} components, expected one")
    return next(iter(found.items()))


def _tls(name: str) -> dict[str, str]:
    return {"ca": "ca/ca.crt", "cert": f"{name}/tls.crt", "key": f"{name}/tls.key"}


def _key(manifest: dict[str, Any], name: str, purpose: str) -> dict[str, Any]:
    key: dict[str, Any] = manifest["components"][name]["keys"][purpose]
    return key


def controller(manifest: dict[str, Any]) -> str:
    """The controller municipality: the organisation of the municipality's gateway."""
    for comp in _components(manifest, "gateway").values():
        if comp.get("partner_kind") == "municipality":
            return str(comp["organisation"])
    raise ValueError("the manifest has no municipality gateway to act as controller")


def trust_document(manifest: dict[str, Any]) -> dict[str, Any]:
    """The officer trust file: every privacy officer's and reviewer's key, with organisation."""
    return {
        "format": TRUST_FORMAT,
        "officers": [
            {
                "officer_id": name,
                "organisation": comp["organisation"],
                "role": comp["role"],
                "public_key": comp["keys"]["signing"]["public"],
                "key_id": comp["keys"]["signing"]["key_id"],
            }
            for name, comp in sorted(manifest["components"].items())
            if comp["role"] in OFFICER_ROLES
        ],
    }


def audit_keys_document(manifest: dict[str, Any]) -> dict[str, Any]:
    """The matcher's checkpoint key and every gateway's witness key, as note vkeys."""
    from samenloop.auditverify.trust import document

    name, _ = _only(manifest, "matcher")
    witnesses = {str(comp["organisation"]): comp["keys"]["witness"]["cosignature_vkey"]
                 for comp in _components(manifest, "gateway").values()
                 if "witness" in comp.get("keys", {})}
    return document(_key(manifest, name, "checkpoint")["note_vkey"], witnesses)


def pseudonymiser_config(manifest: dict[str, Any]) -> dict[str, Any]:
    name, _ = _only(manifest, "pseudonymiser")
    return {
        "bind": PSEUDONYMISER_ADDRESS,
        "tls": _tls(name),
        "voprf_key": _key(manifest, name, "voprf")["file"],
        "max_batch_size": 1000,
        "organisations": {
            comp["organisation"]: dict(DEV_QUOTA)
            for comp in sorted(_components(manifest, "gateway").values(),
                               key=lambda c: str(c["organisation"]))
        },
        "deny_list": None,
    }


def matcher_config(manifest: dict[str, Any]) -> dict[str, Any]:
    name, _ = _only(manifest, "matcher")
    pseudonymiser, _ = _only(manifest, "pseudonymiser")
    return {
        "bind": MATCHER_ADDRESS,
        "data_dir": "matcher-data",
        "database_url": None,
        "municipality": MUNICIPALITY,
        "controller": controller(manifest),
        "tls": _tls(name),
        "signing_key": _key(manifest, name, "signing")["file"],
        "hmac_key": _key(manifest, name, "hmac")["file"],
        "officer_trust": TRUST_FILE,
        "pseudonymiser_key_ids": [_key(manifest, pseudonymiser, "voprf")["key_id"]],
        "partners": {
            comp["organisation"]: {"kind": comp["partner_kind"],
                                   "purposes": PURPOSES[comp["partner_kind"]],
                                   "disclosure_key": comp["keys"]["disclosure"]["public_file"],
                                   **_witness_key(comp)}
            for comp in sorted(_components(manifest, "gateway").values(),
                               key=lambda c: str(c["organisation"]))
        },
        "audit": {"checkpoint_key": _key(manifest, name, "checkpoint")["file"],
                  "origin": _key(manifest, name, "checkpoint")["note_origin"],
                  "checkpoint_every_entries": 1000, "checkpoint_interval_seconds": 60},
        "inquiries": {"per_minute": 10, "per_day": 200},
        "purge_interval_seconds": 3600,
        "deny_list": None,
    }


def _witness_key(comp: dict[str, Any]) -> dict[str, str]:
    """`witness_key` for a gateway that has one (dev-setup writes `witness.key`, ADR 0022)."""
    witness = comp.get("keys", {}).get("witness")
    return {"witness_key": witness["public_file"]} if witness else {}


def gateway_config(manifest: dict[str, Any], name: str, mapping: str | None) -> dict[str, Any]:
    """A gateway that runs (docs/gateway.md); GGZ waits for a local approval (four-eyes)."""
    comp = manifest["components"][name]
    pseudonymiser, _ = _only(manifest, "pseudonymiser")
    matcher, _ = _only(manifest, "matcher")
    voprf = _key(manifest, pseudonymiser, "voprf")
    config: dict[str, Any] = {
        "organisation": comp["organisation"],
        "kind": comp["partner_kind"],
        "matcher": MATCHER_ADDRESS,
        "pseudonymiser": PSEUDONYMISER_ADDRESS,
        "pseudonymiser_key_id": voprf["key_id"],
        "pseudonymiser_public_key": voprf["public_file"],
        "matcher_public_key": _key(manifest, matcher, "signing")["public_file"],
        "tls": _tls(name),
        "disclosure_key": _key(manifest, name, "disclosure")["file"],
        "vault_key": _key(manifest, name, "vault")["file"],
        "officer_trust": TRUST_FILE,
        "controller": controller(manifest),
        "mapping": mapping,
        "data_dir": f"{name}-data",
        "limits": {"disclosures_per_day": 200, "per_policy_per_day": 50},
        "four_eyes": comp["partner_kind"] == "mental_health",
        "deny_list": None,
    }
    config.update(witness_settings(manifest, name))
    if comp["partner_kind"] == "municipality":
        links = _EXAMPLES / "gemeente" / "links-mapping.yaml"
        if links.is_file():
            config["link_mapping"] = f"{name}/links-mapping.yaml"
    return config


def witness_settings(manifest: dict[str, Any], name: str) -> dict[str, Any]:
    """A gateway witnesses the central audit log (ADR 0024): it pins the matcher's checkpoint
    key (`note_vkey`) and cosigns with its own witness key, when the manifest has them."""
    matcher, _ = _only(manifest, "matcher")
    settings: dict[str, Any] = {}
    checkpoint = manifest["components"][matcher]["keys"].get("checkpoint", {})
    if checkpoint.get("note_vkey"):
        settings["checkpoint_vkey"] = checkpoint["note_vkey"]
    witness = manifest["components"][name]["keys"].get("witness")
    if witness is not None:
        settings["witness_key"] = witness["file"]
    return settings


def inbox_config(manifest: dict[str, Any], name: str) -> dict[str, Any]:
    """The inbox (services/wijkteam/settings.py); partners' disclosure keys as published."""
    partner_keys = {
        str(comp["organisation"]): comp["keys"]["disclosure"]["public_file"]
        for comp in sorted(_components(manifest, "gateway").values(),
                           key=lambda c: str(c["organisation"]))
        if "disclosure" in comp.get("keys", {})
    }
    return {
        "team": manifest["components"][name]["organisation"],
        "matcher": MATCHER_ADDRESS,
        "tls": _tls(name),
        "inbox_key": _key(manifest, name, "inbox")["file"],
        "partner_keys": partner_keys,
        "bind": INBOX_ADDRESS,
        "users_file": f"{name}-data/inbox-users.json",
        "deny_list": None,
    }


_HEADERS = {
    "pseudonymiser": "start: samenloop pseudonymiser serve --config {file}",
    "matcher": "start: samenloop matcher migrate --config {file} && "
               "samenloop matcher serve --config {file}",
    "gateway": "start: samenloop gateway serve --config {file}  (send exports with "
               "samenloop gateway ingest FILE --config {file}; docs/gateway.md)",
    "inbox": "start: samenloop inbox user add ID --config {file} && "
             "samenloop inbox serve --config {file}",
}


def _write_yaml(path: Path, document: dict[str, Any], header: str) -> None:
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    path.write_text(f"# {header}\n# development deployment: paths are relative to this file\n"
                    f"{text}", encoding="utf-8")


def write_deployment(directory: Path, manifest: dict[str, Any]) -> list[Path]:
    """Write the trust file, every component's configuration and README.md; return the files."""
    directory = Path(directory)
    written: list[Path] = []

    def put(filename: str, document: dict[str, Any], header: str) -> None:
        path = directory / filename
        _write_yaml(path, document, header.format(file=path))
        written.append(path)

    put(TRUST_FILE, trust_document(manifest),
        "officer trust file: whose signatures make a policy valid (policies/trust.py)")
    put(AUDIT_KEYS, audit_keys_document(manifest),
        "audit log keys: whom `samenloop audit verify --keys` believes (ADR 0022)")
    put("pseudonymiser.yaml", pseudonymiser_config(manifest), _HEADERS["pseudonymiser"])
    put("matcher.yaml", matcher_config(manifest), _HEADERS["matcher"])
    for name, comp in sorted(_components(manifest, "gateway").items()):
        mapping = _copy_example_mapping(directory, name, str(comp.get("partner_kind")))
        put(f"{name}.yaml", gateway_config(manifest, name, mapping), _HEADERS["gateway"])
    for name in sorted(_components(manifest, "wijkteam")):
        put(f"inbox-{name}.yaml", inbox_config(manifest, name), _HEADERS["inbox"])
    readme = directory / README
    readme.write_text(readme_text(directory, manifest), encoding="utf-8")
    written.append(readme)
    return written


def _copy_example_mapping(directory: Path, name: str, kind: str) -> str | None:
    """The shipped example mapping for this partner kind, copied next to the gateway's keys."""
    folder = _EXAMPLE_MAPPINGS.get(kind)
    source = _EXAMPLES / folder / "mapping.yaml" if folder else None
    if source is None or not source.is_file():
        return None
    shutil.copyfile(source, directory / name / "mapping.yaml")
    links = _EXAMPLES / folder / "links-mapping.yaml" if folder else None
    if links is not None and links.is_file():
        shutil.copyfile(links, directory / name / "links-mapping.yaml")
    return f"{name}/mapping.yaml"


def readme_text(directory: Path, manifest: dict[str, Any]) -> str:
    officer = default_officer(manifest)
    gateways = sorted(_components(manifest, "gateway"))
    teams = sorted(_components(manifest, "wijkteam"))
    d = directory
    lines = [
        "# Development deployment",
        "",
        "Written by `samenloop pki dev-setup`. Development keys only: never use them for real "
        "data.",
        "",
        "Start each component in its own terminal:",
        "",
        "```sh",
        f"samenloop pseudonymiser serve --config {d}/pseudonymiser.yaml  # {PSEUDONYMISER_ADDRESS}",
        f"samenloop matcher migrate --config {d}/matcher.yaml",
        f"samenloop matcher serve --config {d}/matcher.yaml  # {MATCHER_ADDRESS}",
        f"samenloop policy list --tls-dir {d}  # as {officer}, from the matcher at its default",
        *[f"samenloop inbox user add u-1 --config {d}/inbox-{t}.yaml && samenloop inbox serve "
          f"--config {d}/inbox-{t}.yaml  # http://{INBOX_ADDRESS}" for t in teams],
        "```",
        "",
        "Check a configuration (and see every effective setting) with "
        "`samenloop <role> config-check FILE`; override any setting from the environment, e.g. "
        "`SAMENLOOP_MATCHER__DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1/samenloop`.",
        "",
        "Each partner gateway (docs/gateway.md):",
        "",
        "```sh",
        *[f"samenloop gateway serve --config {d}/{g}.yaml  # "
          f"{manifest['components'][g]['organisation']}" for g in gateways],
        "```",
        "",
        f"`{TRUST_FILE}` is the officer trust file the matcher (and the gateways) verify policy "
        "approvals against; `manifest.json` lists every certificate and key.",
        "",
    ]
    return "\n".join(lines)


def default_officer(manifest: dict[str, Any]) -> str:
    """The controller's privacy officer: the policy CLI's default `--tls-name`."""
    organisation = controller(manifest)
    for name, comp in sorted(manifest["components"].items()):
        if comp["role"] == "privacy_officer" and comp["organisation"] == organisation:
            return str(name)
    raise ValueError("the manifest has no privacy officer of the controller")
