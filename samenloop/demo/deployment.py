"""The demo's deployment: the dev PKI plus what the policies need, and configs with real ports.

`pki dev-setup` makes the CA, a certificate and keys per component, the officer trust file and a
config per component. The demo adds, from the policies it runs: a certificate and X25519 key per
recipient team (`team_id`), and the independent reviewer a standing policy names; and it writes
the configurations with the addresses the services actually listen on (`127.0.0.1`, ports
chosen at start-up), the policies' municipality, and development-sized limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from crypto.devsetup import (
    dev_setup,
    issue_component,
    load_ca,
    read_manifest,
    write_manifest,
)
from crypto.keys import KeyKind, generate_key_file
from samenloop import deploy_configs

PKI_DIR: Final = "deploy"
CONTROLLER_OFFICER: Final = "fg-gemeente-rotterdam"
"""The controller's privacy officer in the dev PKI (one approval must be the controller's)."""
SECOND_OFFICER: Final = "po-woonstad-rotterdam"
REVIEWER_ORGANISATION: Final = "onafhankelijke-toetsing"
# Development-sized ceilings: the demo discloses for every alert of a whole city in one run.
GATEWAY_LIMITS: Final = {"disclosures_per_day": 100_000, "per_policy_per_day": 100_000}
INQUIRY_LIMITS: Final = {"per_minute": 100_000, "per_day": 1_000_000}


@dataclass
class Deployment:
    """The PKI directory and its manifest, with the components the demo runs."""

    directory: Path
    manifest: dict[str, Any]

    @property
    def gateways(self) -> dict[str, str]:
        """partner kind -> component name (`gateway-<organisation>`)."""
        return {str(c["partner_kind"]): name for name, c in self.manifest["components"].items()
                if c["role"] == "gateway"}

    def organisation(self, name: str) -> str:
        return str(self.manifest["components"][name]["organisation"])

    def key_file(self, name: str, purpose: str) -> Path:
        return self.directory / str(self.manifest["components"][name]["keys"][purpose]["file"])

    def public_key(self, name: str, purpose: str) -> str:
        return str(self.manifest["components"][name]["keys"][purpose]["public"])

    def path(self, relative: str) -> Path:
        return self.directory / relative


def create(root: Path) -> Deployment:
    """`pki dev-setup` into `root/deploy` (the same library calls the command makes)."""
    directory = root / PKI_DIR
    manifest = dev_setup(directory)
    deploy_configs.write_deployment(directory, manifest)
    return Deployment(directory, read_manifest(directory))


def add_team(dep: Deployment, team_id: str) -> str:
    """A certificate (role wijkteam) and an X25519 inbox key for `team_id`; its public key."""
    if team_id not in dep.manifest["components"]:
        ca = load_ca(dep.directory)
        _, entry = issue_component(dep.directory, ca, name=team_id, organisation=team_id,
                                   role="wijkteam")
        info = generate_key_file(KeyKind.X25519, dep.directory / team_id / "inbox.key")
        entry["keys"]["inbox"] = _key_entry(dep.directory, info)
        dep.manifest["components"][team_id] = entry
        write_manifest(dep.directory, dep.manifest)
    return dep.public_key(team_id, "inbox")


def add_reviewer(dep: Deployment, officer_id: str) -> None:
    """Register the independent reviewer a standing policy names (role independent_review)."""
    if officer_id in dep.manifest["components"]:
        return
    ca = load_ca(dep.directory)
    _, entry = issue_component(dep.directory, ca, name=officer_id,
                               organisation=REVIEWER_ORGANISATION, role="independent_review")
    info = generate_key_file(KeyKind.ED25519, dep.directory / officer_id / "signing.key")
    entry["keys"]["signing"] = _key_entry(dep.directory, info)
    dep.manifest["components"][officer_id] = entry
    write_manifest(dep.directory, dep.manifest)


def _key_entry(directory: Path, info: Any) -> dict[str, Any]:
    from crypto.devsetup import _key_entry as entry

    result: dict[str, Any] = entry(directory, info)
    return result


def write_trust(dep: Deployment) -> Path:
    """The officer trust file, with every officer and reviewer now in the manifest."""
    path = dep.path(deploy_configs.TRUST_FILE)
    _write(path, deploy_configs.trust_document(dep.manifest))
    return path


def _write(path: Path, document: dict[str, Any]) -> None:
    path.write_text("# written by samenloop demo; paths are relative to this file\n"
                    + yaml.safe_dump(document, sort_keys=False, allow_unicode=True),
                    encoding="utf-8")


def write_pseudonymiser_config(dep: Deployment) -> Path:
    config = deploy_configs.pseudonymiser_config(dep.manifest)
    config["bind"] = "127.0.0.1:0"
    path = dep.path("pseudonymiser.yaml")
    _write(path, config)
    return path


AUDIT_CHECKPOINT_SECONDS = 2


def write_matcher_config(dep: Deployment, municipality: str | None) -> Path:
    """The matcher on a free port, serving the policies' municipality, partners' disclosure
    keys registered, inquiry limits sized for a whole synthetic city."""
    config = deploy_configs.matcher_config(dep.manifest)
    config["bind"] = "127.0.0.1:0"
    config["municipality"] = municipality
    config["inquiries"] = dict(INQUIRY_LIMITS)
    # a checkpoint within seconds of the last entry, so the demo's `audit verify` covers all
    config["audit"]["checkpoint_interval_seconds"] = AUDIT_CHECKPOINT_SECONDS
    for name in dep.gateways.values():
        org = dep.organisation(name)
        public = dep.manifest["components"][name]["keys"]["disclosure"]["public_file"]
        config["partners"][org]["disclosure_key"] = public
    path = dep.path("matcher.yaml")
    _write(path, config)
    return path


def matcher_database(dep: Deployment) -> Path:
    """Where the matcher's SQLite database lives (its `data_dir` default)."""
    return dep.path("matcher-data")


def write_gateway_config(dep: Deployment, kind: str, *, matcher: str,
                         pseudonymiser: str) -> Path:
    """A working gateway config (services/partner_gateway/settings.py) for partner `kind`.

    No mapping: canonical exports need none, and for a partner's own format the demo names
    the mapping per file (`--mapping`).
    """
    name = dep.gateways[kind]
    base = deploy_configs.gateway_config(dep.manifest, name, None)
    matcher_name = next(n for n, c in dep.manifest["components"].items() if c["role"] == "matcher")
    config: dict[str, Any] = {
        "organisation": base["organisation"],
        "kind": kind,
        "matcher": matcher,
        "pseudonymiser": pseudonymiser,
        "pseudonymiser_key_id": base["pseudonymiser_key_id"],
        "pseudonymiser_public_key": base["pseudonymiser_public_key"],
        "matcher_public_key":
            dep.manifest["components"][matcher_name]["keys"]["signing"]["public_file"],
        "tls": base["tls"],
        "disclosure_key": dep.manifest["components"][name]["keys"]["disclosure"]["file"],
        "vault_key": base["vault_key"],
        "officer_trust": base["officer_trust"],
        "controller": deploy_configs.controller(dep.manifest),
        "data_dir": base["data_dir"],
        "limits": dict(GATEWAY_LIMITS),
        "pull_wait_seconds": 2,
        # every gateway witnesses the audit log (ADR 0024), often enough for the audit stage
        **deploy_configs.witness_settings(dep.manifest, name),
        "witness_interval_seconds": 2,
    }
    path = dep.path(f"{name}.yaml")
    _write(path, config)
    return path


def write_inbox_config(dep: Deployment, team: str, *, matcher: str, bind: str) -> Path:
    config = deploy_configs.inbox_config(dep.manifest, team)
    config["matcher"] = matcher
    config["bind"] = bind
    path = dep.path(f"inbox-{team}.yaml")
    _write(path, config)
    return path
