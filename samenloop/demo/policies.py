"""The demo's policies: bind each to its team's key, sign them as the officers would, publish.

Signing and publishing go through the policy CLI itself (`samenloop policy sign|publish`, run
in this process), so the demo exercises the same lint, trust-file and in-force checks an
officer meets. Two privacy officers sign every policy, one of them the controller's; a
standing policy is also signed by the independent reviewer it names.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from domain import safe_yaml
from domain.text_files import TextInputError, read_utf8
from samenloop.demo.deployment import (
    CONTROLLER_OFFICER,
    SECOND_OFFICER,
    Deployment,
    add_reviewer,
    add_team,
    write_trust,
)


class PolicyStepError(Exception):
    """A policy could not be prepared, signed or published; the message says which and why."""


@dataclass(frozen=True)
class DemoPolicy:
    policy_id: str
    mode: str
    team_id: str
    municipality: str
    reviewer: str | None
    path: Path
    disclosure: dict[str, list[str]]


def read_policies(sources: list[Path]) -> list[dict[str, Any]]:
    documents = []
    for source in sources:
        try:
            doc = safe_yaml.safe_load(read_utf8(source, max_bytes=safe_yaml.MAX_YAML_BYTES))
        except (OSError, TextInputError, yaml.YAMLError) as exc:
            problem = getattr(exc, "problem", None) or exc
            raise PolicyStepError(f"{source}: cannot read the policy ({problem})") from None
        if not isinstance(doc, dict) or not doc.get("id"):
            raise PolicyStepError(f"{source}: not a policy document (no `id`)")
        documents.append(doc)
    return documents


def prepare(dep: Deployment, sources: list[Path], out_dir: Path) -> list[DemoPolicy]:
    """Copy the unsigned policies to `out_dir` with each team's real public key written in;
    register every team and every independent reviewer named. The trust file is rewritten."""
    out_dir.mkdir(parents=True, exist_ok=True)
    prepared = []
    for doc in read_policies(sources):
        recipient = doc.get("recipient") or {}
        team_id = str(recipient.get("team_id") or "")
        if not team_id:
            raise PolicyStepError(f"policy {doc['id']}: no recipient.team_id")
        recipient["public_key"] = add_team(dep, team_id)
        doc["recipient"] = recipient
        doc.pop("approvals", None)
        mode = str(doc.get("mode") or "on_request")
        reviewer = None
        if mode == "standing":
            reviewer = str((doc.get("independent_review") or {}).get("reviewer") or "")
            if not reviewer:
                raise PolicyStepError(f"policy {doc['id']}: standing, but names no "
                                      "independent_review.reviewer")
            add_reviewer(dep, reviewer)
        path = out_dir / f"{doc['id']}.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True),
                        encoding="utf-8")
        prepared.append(DemoPolicy(str(doc["id"]), mode, team_id,
                                   str((doc.get("scope") or {}).get("municipality") or ""),
                                   reviewer, path, dict(doc.get("disclosure") or {})))
    write_trust(dep)
    return prepared


def lint_all(policies: list[DemoPolicy], log: Path) -> None:
    """`samenloop policy lint` each one before any service starts: a policy an officer could
    not sign stops the demo at once, with the linter's first error."""
    for p in policies:
        _cli(["policy", "lint", str(p.path)], log)


def _cli(args: list[str], log: Path) -> None:
    from samenloop.cli.main import app

    result = CliRunner().invoke(app, args)
    with log.open("a", encoding="utf-8") as out:
        out.write(f"$ samenloop {' '.join(args)}\n{result.output}(exit {result.exit_code})\n")
    if result.exit_code != 0:
        lines = result.output.strip().splitlines() or [repr(result.exception)]
        first = next((line for line in lines if "error" in line), lines[-1])
        raise PolicyStepError(f"`samenloop {args[0]} {args[1]}` failed: {first} (see {log})")


def sign_all(dep: Deployment, policies: list[DemoPolicy], log: Path) -> None:
    trust = str(dep.path("officers.yaml"))
    for p in policies:
        signers = [(CONTROLLER_OFFICER, "privacy_officer"), (SECOND_OFFICER, "privacy_officer")]
        if p.reviewer:
            signers.append((p.reviewer, "independent_review"))
        for officer, role in signers:
            _cli(["policy", "sign", str(p.path), "--key", str(dep.key_file(officer, "signing")),
                  "--officer", officer, "--role", role, "--officer-trust", trust], log)


def publish_all(dep: Deployment, policies: list[DemoPolicy], matcher: str, log: Path) -> None:
    trust = str(dep.path("officers.yaml"))
    for p in policies:
        _cli(["policy", "publish", str(p.path), "--officer-trust", trust, "--matcher", matcher,
              "--tls-dir", str(dep.directory), "--tls-name", CONTROLLER_OFFICER], log)
