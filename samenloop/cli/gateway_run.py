"""The running gateway's commands: config-check, ingest, watch, serve, approvals, inquire.

Registered into `samenloop gateway` next to `check` (samenloop/cli/gateway.py). Exit codes:
0 done and nothing rejected; 1 some rows or the inquiry were rejected; 2 the configuration,
a file or a peer could not be used (one line on stderr says which and what to do).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import typer

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_UNUSABLE = 2

CONFIG = typer.Option(..., "--config", "-c", help="The gateway's YAML configuration.")


@contextmanager
def _one_line_errors() -> Iterator[None]:
    """Operator mistakes and unreachable peers end in one line and exit status 2."""
    from crypto.errors import CryptoError
    from domain.errors import DomainError
    from policies.errors import PolicyError
    from services.common.config import ConfigError
    from services.common.tls import TlsConfigError
    from services.partner_gateway.connections import GatewayConnectionError

    try:
        yield
    except (ConfigError, CryptoError, DomainError, PolicyError, TlsConfigError,
            GatewayConnectionError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_UNUSABLE) from None
    except OSError as exc:
        text = f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else str(exc)
        typer.echo(f"error: {text}", err=True)
        raise typer.Exit(EXIT_UNUSABLE) from None


def config_check(
    file: Path = typer.Argument(..., help="The gateway configuration to check."),
) -> None:
    """Validate a gateway configuration and print the effective settings (no secrets)."""
    from services.partner_gateway.settings import load_settings

    with _one_line_errors():
        settings = load_settings(file)
    typer.echo(json.dumps(settings.effective(), indent=2, sort_keys=True))
    typer.echo(f"{file}: ok", err=True)


def _start(config: Path):  # type: ignore[no-untyped-def]
    from services.common.logging import configure_logging
    from services.partner_gateway.runtime import Gateway
    from services.partner_gateway.settings import load_settings

    settings = load_settings(config)
    configure_logging("gateway", level=settings.log_level)
    return Gateway(settings)


def ingest(
    files: list[Path] = typer.Argument(..., help="Exports to send (CSV, JSON Lines, .xlsx)."),
    config: Path = CONFIG,
    kind: str | None = typer.Option(
        None, "--kind", help="signals, links or withdrawals (default: from the mapping or the "
        "file name: *link* = links, *withdraw*/*intrekking* = withdrawals, else signals)."),
    mapping: Path | None = typer.Option(
        None, "--mapping", "-m", help="Mapping file (default: the configuration's for the kind)."),
    report: Path | None = typer.Option(
        None, "--report", help="Write one JSON line per row (outcome, reason code; no values)."),
    as_of: str | None = typer.Option(
        None, "--as-of", help="Check dates as if today were this date (YYYY-MM-DD)."),
) -> None:
    """Validate, pseudonymise and send exports to the matcher; resumes after a crash.

    Prints a summary per file (read / accepted / refreshed / duplicate / rejected by reason).
    Exit code 0: nothing rejected; 1: some rows rejected (the others went through);
    2: a file, the configuration, the pseudonymiser or the matcher could not be used.
    """
    from services.partner_gateway.ingest import RowReport
    from services.partner_gateway.runner import ingest_paths, parse_kind

    with _one_line_errors():
        today = _as_of(as_of)
        export_kind = parse_kind(kind)
        gw = _start(config)
        handle = report.open("w", encoding="utf-8") if report else None
        try:
            summaries = ingest_paths(
                gw, files, export_kind, mapping, RowReport(handle) if handle else None,
                today, progress=sys.stderr.isatty())
        finally:
            if handle is not None:
                handle.close()
            gw.close()
    rejected = False
    for summary in summaries:
        for line in summary.lines():
            typer.echo(line)
        rejected = rejected or summary.rejected > 0
    if report is not None:
        typer.echo(f"report: {report}")
    raise typer.Exit(EXIT_REJECTED if rejected else EXIT_OK)


def _as_of(value: str | None) -> date:
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        typer.echo("error: --as-of must be a date like 2026-03-31", err=True)
        raise typer.Exit(EXIT_UNUSABLE) from None


def register(app: typer.Typer) -> None:
    """Add the running gateway's commands to the `samenloop gateway` group."""
    app.command("config-check")(config_check)
    app.command("ingest")(ingest)
