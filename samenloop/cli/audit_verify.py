"""`samenloop audit verify`: recompute the Merkle audit log and check every signed checkpoint,
its cosignatures and their consistency; name the first entry that does not fit (ADR 0022).

Against a matcher database (`--database-url`, read-only) or over the API as a privacy officer
of the controller (`--matcher`, `--tls-dir`, `--tls-name`, as the policy commands). The keys
to believe come from the verifier, never from the matcher: `--keys audit-keys.yaml` and/or
`--log-key`, `--witness`. Exit status 0 when the log verifies, 1 with one line when not.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from samenloop.cli._app import json_option
from samenloop.cli._errors import exit_with
from samenloop.cli.policy import (
    CA_OPTION,
    CERT_OPTION,
    KEY_OPTION,
    MATCHER_OPTION,
    SERVER_NAME_OPTION,
    TLS_DIR_OPTION,
    TLS_NAME_OPTION,
    _remote,
)


def verify(
    database_url: str = typer.Option(
        None, "--database-url", help="Read this matcher database directly (sqlite:///PATH or "
        "postgresql+psycopg://USER@HOST/DB) instead of asking the matcher."),
    keys: Path = typer.Option(
        None, "--keys", help="Audit keys file: the log's checkpoint key and the witnesses' "
        "keys (dev-setup writes audit-keys.yaml)."),
    log_key: str = typer.Option(
        None, "--log-key", help="The matcher's checkpoint key as a note vkey "
        "(NAME+HEX+BASE64); replaces the one in --keys."),
    witness: list[str] = typer.Option(
        [], "--witness", help="A witness's cosignature/v1 key (NAME+HEX+BASE64); repeatable."),
    require_cosignatures: int = typer.Option(
        0, "--require-cosignatures", min=0, metavar="K",
        help="Fail unless a checkpoint carries K valid cosignatures of the known witnesses."),
    matcher: str = MATCHER_OPTION,
    tls_dir: Path = TLS_DIR_OPTION,
    tls_name: str = TLS_NAME_OPTION,
    ca: Path = CA_OPTION,
    cert: Path = CERT_OPTION,
    tls_key: Path = KEY_OPTION,
    server_name: str = SERVER_NAME_OPTION,
    as_json: bool = json_option(),
) -> None:
    """Verify the audit log: every entry hashes to its leaf, the tree matches every signed
    checkpoint, successive checkpoints are consistent, cosignatures verify."""
    from samenloop.auditverify.trust import load_trust

    with exit_with(peer="the matcher"):
        trust = load_trust(keys, log_key, witness)
        if database_url:
            report = _from_database(database_url, trust, require_cosignatures)
        else:
            remote = _remote(matcher, tls_dir, tls_name, ca, cert, tls_key, server_name)
            report = _from_api(remote, trust, require_cosignatures)
    if as_json:
        typer.echo(json.dumps({
            "ok": report.ok, "problem": report.problem, "first_bad_leaf": report.leaf,
            "entries": report.entries, "checkpoints": report.checkpoints,
            "latest_checkpoint": report.latest_checkpoint,
            "witnessed_size": report.witnessed_size, "purged": report.purged,
            "unsigned_tail": report.unsigned_tail}, indent=2, sort_keys=True))
    elif report.ok:
        typer.echo(report.summary(require_cosignatures))
    else:
        typer.echo(f"error: {report.summary(require_cosignatures)}", err=True)
    if not report.ok:
        raise typer.Exit(1)


def _from_database(url: str, trust: Any, require: int) -> Any:
    from samenloop.auditverify.database import verify_database
    from services.matcher.config import _database_url

    try:
        url = _database_url(url)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--database-url") from None
    return verify_database(url, trust, require_cosignatures=require)


def _from_api(remote: Any, trust: Any, require: int) -> Any:
    from samenloop.auditverify.api import verify_api
    from samenloop.v1 import audit_pb2_grpc
    from services.common.tls import secure_channel

    channel = secure_channel(remote.target, remote.material, server_role="matcher",
                             server_name=remote.server_name)
    try:
        return verify_api(audit_pb2_grpc.AuditServiceStub(channel), trust,
                          require_cosignatures=require)
    finally:
        channel.close()


def register(app: typer.Typer) -> None:
    app.command(name="verify")(verify)
