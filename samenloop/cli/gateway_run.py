"""The running gateway's commands: config-check, ingest, watch, serve, approvals, inquire, audit.

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
from typing import Any

import typer

from samenloop.cli._app import cli_app, json_option

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
    from services.common.db import DatabaseUnavailable
    from services.common.tls import TlsConfigError
    from services.partner_gateway.connections import GatewayConnectionError
    from services.partner_gateway.store import StorageError

    try:
        yield
    except (ConfigError, CryptoError, DomainError, PolicyError, TlsConfigError,
            GatewayConnectionError, DatabaseUnavailable, StorageError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_UNUSABLE) from None
    except OSError as exc:
        text = f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else str(exc)
        typer.echo(f"error: {text}", err=True)
        raise typer.Exit(EXIT_UNUSABLE) from None


def config_check(
    file: Path = typer.Argument(..., help="The gateway configuration to check."),
    as_json: bool = json_option("Print JSON instead of YAML."),
) -> None:
    """Validate the configuration (file + SAMENLOOP_GATEWAY__* environment) and print the
    effective settings, secrets elided."""
    from samenloop.cli._config_check import print_effective
    from services.partner_gateway.settings import load_settings

    with _one_line_errors():
        settings = load_settings(file)
    print_effective(settings.effective(), str(file), as_json)


def migrate(config: Path = CONFIG) -> None:
    """Create or upgrade the gateway's own database (Alembic); every command also does this
    when it opens the database, so this is for doing it on purpose, e.g. before a backup."""
    from services.partner_gateway.settings import load_settings
    from services.partner_gateway.store import migrate_store

    with _one_line_errors():
        migrate_store(load_settings(config).db_url)
    typer.echo("gateway database is at the latest revision", err=True)


def _start(config: Path):  # type: ignore[no-untyped-def]
    from services.common.logging import configure_logging
    from services.common.tracing import configure_tracing
    from services.partner_gateway.runtime import Gateway
    from services.partner_gateway.settings import load_settings

    settings = load_settings(config)
    configure_logging("gateway", level=settings.log_level)
    configure_tracing("gateway")
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


def serve(config: Path = CONFIG) -> None:
    """Answer reveal requests: pull from the matcher, verify, seal or refuse, until SIGTERM.

    Also purges the identity vault of signals past their retention once a day, and witnesses
    the central audit log (verifies and cosigns its checkpoints; `gateway audit check`).
    """

    from services.partner_gateway.server import serve as run

    with _one_line_errors():
        gw = _start(config)
        probes = _probes(gw)
    stop = _stop_event(probes)
    witness = _witness(gw, stop)
    typer.echo(f"gateway {gw.settings.organisation} serving reveal requests from "
               f"{gw.settings.matcher}", err=True)
    try:
        with _one_line_errors():
            run(gw, stop)
    finally:
        stop.set()
        witness.join(timeout=5)
        gw.close()
        if probes is not None:
            probes[1].stop()


def _probes(gw: Any) -> Any:
    """Load the keys now (a bad key file fails at start) and, with `health: {bind}`, serve the
    probe port: ready once the keys are loaded and while the certificate is valid."""
    from services.common.health_http import certificate_check, start_health

    gw.disclosure_key  # noqa: B018
    gw.matcher_key  # noqa: B018
    gw.vault_key  # noqa: B018
    gw.checkpoint_verifier  # noqa: B018
    gw.cosigner  # noqa: B018
    gw.engine  # noqa: B018
    probes = start_health(gw.settings.health, "gateway")
    if probes is not None:
        probes[0].add_readiness("keys", lambda: None)
        probes[0].add_readiness("certificate", certificate_check(gw.settings.tls.cert))
        probes[0].mark_started()
    return probes


def _witness(gw: Any, stop: Any) -> Any:
    """The witness of the central audit log, in a thread of its own (ADR 0024)."""
    import threading

    from services.partner_gateway.witness import run as witness

    gw.matcher_channel  # noqa: B018  (made once here, not raced by two threads)
    thread = threading.Thread(target=witness, args=(gw, stop), name="witness", daemon=True)
    thread.start()
    return thread


def _stop_event(probes: Any) -> Any:
    """Set on SIGTERM/SIGINT; readiness fails first so no new work is routed here."""
    import signal
    import threading

    stop = threading.Event()

    def handle(*_: object) -> None:
        if probes is not None:
            probes[0].mark_draining()
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handle)
    return stop


def watch(
    folder: Path = typer.Argument(..., help="The folder the partner's system exports into."),
    config: Path = CONFIG,
    once: bool = typer.Option(False, "--once", help="Process what is there now, then exit."),
    with_serve: bool = typer.Option(
        False, "--serve", help="Also answer reveal requests (as `serve`) in the same process."),
) -> None:
    """Ingest every export dropped into FOLDER; move each aside with its report.

    Processed files go to FOLDER/processed/ with `<name>.report.jsonl` and
    `<name>.summary.json`; unreadable files to FOLDER/failed/ with `<name>.error.txt`.
    With --once the exit code is 1 if any row was rejected.
    """
    import threading

    from services.partner_gateway.server import serve as run_serve
    from services.partner_gateway.watch import Watcher

    if not folder.is_dir():
        typer.echo(f"error: {folder}: not a folder", err=True)
        raise typer.Exit(EXIT_UNUSABLE)
    with _one_line_errors():
        gw = _start(config)
        watcher = Watcher(gw, folder)
        if once:
            try:
                summaries = watcher.run_once()
            finally:
                gw.close()
            for summary in summaries:
                for line in summary.lines():
                    typer.echo(line)
            raise typer.Exit(EXIT_REJECTED if any(s.rejected for s in summaries) else EXIT_OK)
    with _one_line_errors():
        probes = _probes(gw)
    stop = _stop_event(probes)
    witness = _witness(gw, stop)
    server = None
    if with_serve:
        server = threading.Thread(target=run_serve, args=(gw, stop), daemon=True)
        server.start()
    typer.echo(f"gateway {gw.settings.organisation} watching {folder}", err=True)
    try:
        with _one_line_errors():
            watcher.run(stop)
    finally:
        stop.set()
        if server is not None:
            server.join(timeout=gw.settings.pull_wait_seconds + 5)
        witness.join(timeout=5)
        gw.close()
        if probes is not None:
            probes[1].stop()


def purge(config: Path = CONFIG) -> None:
    """Delete vault rows of signals past their retention now (serve does this daily)."""
    from services.partner_gateway.server import purge_vault

    with _one_line_errors():
        gw = _start(config)
        count = purge_vault(gw, date.today())
        gw.close()
    typer.echo(f"vault: {count} expired identities deleted")


approvals_app = cli_app(help="Reveal requests waiting for a local human decision.")


@approvals_app.command("list")
def approvals_list(
    config: Path = CONFIG,
    json_out: bool = json_option(),
) -> None:
    """List reveal requests waiting for approval (four-eyes, or above a daily ceiling)."""
    from services.partner_gateway.approvals import list_waiting
    from services.partner_gateway.disclosure import Discloser

    with _one_line_errors():
        gw = _start(config)
        waiting = list_waiting(Discloser(gw))
        gw.close()
    if json_out:
        typer.echo(json.dumps([
            {"request": w.request, "why": w.why, "state": w.state, "alert": w.alert,
             "policy": w.policy, "signal_id": w.signal_id, "fields": list(w.fields),
             "received_at": w.received_at.isoformat()} for w in waiting], indent=2))
        return
    if not waiting:
        typer.echo("nothing is waiting for approval")
    for w in waiting:
        typer.echo(f"{w.request}  {w.why}  {w.state}  {w.policy}  signal {w.signal_id}  "
                   f"fields {', '.join(w.fields)}  ({w.alert}, {w.received_at:%Y-%m-%d %H:%M})")


def _decide(config: Path, request: str, by: str, approve: bool) -> None:
    from services.partner_gateway import approvals as queue
    from services.partner_gateway.disclosure import SEAL, Discloser

    with _one_line_errors():
        gw = _start(config)
        try:
            discloser = Discloser(gw)
            try:
                decision = (queue.approve if approve else queue.refuse)(discloser, request, by)
            except queue.ApprovalError as exc:
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(EXIT_UNUSABLE) from None
        finally:
            gw.close()
    if decision.action == SEAL:
        typer.echo(f"{decision.request}: disclosed (sealed to the policy's recipient)")
    else:
        typer.echo(f"{decision.request}: refused ({decision.reason_code})")
        if approve:
            raise typer.Exit(EXIT_REJECTED)


@approvals_app.command("approve")
def approvals_approve(
    request: str = typer.Argument(..., help="revealRequests/ID (or just the ID)."),
    by: str = typer.Option(..., "--by", help="Your staff id (an id, not a name)."),
    config: Path = CONFIG,
) -> None:
    """Approve a waiting request: it is verified again, then sealed and sent."""
    _decide(config, request, by, True)


@approvals_app.command("refuse")
def approvals_refuse(
    request: str = typer.Argument(..., help="revealRequests/ID (or just the ID)."),
    by: str = typer.Option(..., "--by", help="Your staff id (an id, not a name)."),
    config: Path = CONFIG,
) -> None:
    """Refuse a waiting request; the matcher and the team see the refusal."""
    _decide(config, request, by, False)


def inquire(
    config: Path = CONFIG,
    address: str | None = typer.Option(
        None, "--address", help='Postcode and house number, e.g. "3072AB 14" or "3072 ab 12A-2".'),
    bsn: str | None = typer.Option(
        None, "--bsn", help="A BSN of a person on whom you hold a live signal with an address."),
    reason: str = typer.Option(..., "--reason", help="Reason code (list: domain/codes.yaml)."),
    role: str = typer.Option(..., "--role", help="Your role code (list: domain/codes.yaml)."),
    policy: str = typer.Option(..., "--policy", help="The on_request policy id."),
) -> None:
    """Ask whether a coordinated approach is indicated for one household (Wams, on request).

    Prints only "coordinated approach indicated; the team will contact you" (exit 0) or
    "not indicated" (exit 1); nothing else about the household is ever shown.
    """
    from domain.identifiers.address import parse_address
    from domain.identifiers.bsn import parse_bsn
    from services.partner_gateway.inquiry import inquire as ask
    from services.partner_gateway.inquiry import parse_address_option

    if (address is None) == (bsn is None):
        typer.echo("error: give exactly one of --address or --bsn", err=True)
        raise typer.Exit(EXIT_UNUSABLE)
    with _one_line_errors():
        _check_codes(reason, role)
        gw = _start(config)
        try:
            if address is not None:
                household = parse_address_option(address)
            else:
                found = gw.vault.address_of(parse_bsn(str(bsn)).value, date.today())
                if found is None:
                    typer.echo("error: none of your live signals about this BSN has an address; "
                               "ask with --address", err=True)
                    raise typer.Exit(EXIT_UNUSABLE)
                household = parse_address(found["postcode"], found["huisnummer"],
                                          found.get("huisletter") or None,
                                          found.get("huisnummertoevoeging") or None)
            answer = ask(gw, household, policy=policy, reason=reason, role=role)
        finally:
            gw.close()
    typer.echo(answer.text)
    raise typer.Exit(EXIT_OK if answer.indicated else EXIT_REJECTED)


def _check_codes(reason: str, role: str) -> None:
    """Reason and role are codes from the versioned lists; free text never leaves."""
    from domain.codes import load_codes

    codes = load_codes()
    codes.inquiry_reason.check(reason, "--reason")
    codes.requester_role.check(role, "--role")


def register(app: typer.Typer) -> None:
    """Add the running gateway's commands to the `samenloop gateway` group."""
    app.command("config-check")(config_check)
    app.command("migrate")(migrate)
    app.command("ingest")(ingest)
    app.command("serve")(serve)
    app.command("watch")(watch)
    app.command("purge")(purge)
    app.add_typer(approvals_app, name="approvals")
    app.command("inquire")(inquire)
    from samenloop.cli.gateway_audit import app as audit_app

    app.add_typer(audit_app, name="audit")
