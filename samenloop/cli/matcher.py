"""`samenloop matcher …`: run and maintain the central matcher."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from samenloop.cli._app import cli_app, confirm_irreversible, json_option, yes_option
from samenloop.cli._config_check import config_check_command
from samenloop.cli._errors import exit_with
from services.common.logging import configure_logging, quiet_grpc_core
from services.common.tracing import configure_tracing

app = cli_app()

CONFIG = typer.Option(..., "--config", "-c", help="Matcher YAML configuration.")


@app.command()
def serve(
    config: Path = CONFIG,
    bind: str = typer.Option(None, help="Override the `bind` address (host:port)."),
) -> None:
    """Serve the matcher over mTLS until SIGTERM/SIGINT (periodic purge included); SIGHUP
    re-reads the officer trust file (it is also re-read when it changes)."""
    quiet_grpc_core()
    from services.common.health_http import start_health
    from services.common.server import serve_until_signalled, stop_on_signal
    from services.matcher.config import load_config
    from services.matcher.server import (
        build_matcher,
        build_matcher_when_migrated,
        reload_trust_on_sighup,
    )
    from services.matcher.server import serve as start

    with exit_with():
        cfg = load_config(config)
        configure_logging("matcher", level=cfg.log_level)
        configure_tracing("matcher")
        probes = start_health(cfg.health, "matcher")
        health = probes[0] if probes else None
        stop = stop_on_signal(health)
        # With a probe port, wait (not ready) for the database instead of exiting (ADR 0020).
        found = build_matcher_when_migrated(cfg, health, stop) if health else build_matcher(cfg)
        if found is None:  # signalled while waiting for the database
            if probes:
                probes[1].stop()
            return
        matcher = found
        reload_trust_on_sighup(matcher)  # before the server announces its port
        try:
            server = start(matcher, bind=bind or cfg.bind, tls=cfg.tls_material,
                           purge_interval=cfg.purge_interval_seconds,
                           sequence_interval=cfg.audit.sequence_interval_seconds,
                           max_workers=cfg.max_workers, deny_list=cfg.deny_list, health=health,
                           max_message_bytes=cfg.max_message_bytes)
        except BaseException:
            matcher.engine.dispose()
            raise
    try:
        serve_until_signalled(server.running, health=health, stop=stop)
    finally:
        server.stop(0)
        matcher.engine.dispose()
        if probes:
            probes[1].stop()


@app.command()
def migrate(config: Path = CONFIG) -> None:
    """Create or upgrade the matcher's database schema (Alembic)."""
    from services.common.db import migrate as run_migrations
    from services.matcher.config import MIGRATIONS, load_config

    configure_logging("matcher")
    with exit_with():
        cfg = load_config(config)
        run_migrations(MIGRATIONS, cfg.url)
    typer.echo("matcher database is at the latest revision", err=True)


@app.command()
def purge(
    config: Path = CONFIG, yes: bool = yes_option(), as_json: bool = json_option()
) -> None:
    """Run the retention purge once and print what it deleted (counts and ids)."""
    from services.matcher.config import load_config
    from services.matcher.purge import purge as run_purge
    from services.matcher.server import build_matcher

    confirm_irreversible(
        "Delete everything whose retention period has passed? This cannot be undone.",
        yes=yes,
        command="matcher purge",
    )
    configure_logging("matcher")
    with exit_with():
        matcher = build_matcher(load_config(config))
        try:
            report = run_purge(matcher)
        finally:
            matcher.engine.dispose()
    result = {**report.counts(), "deleted_alerts": report.deleted_alert_ids}
    if as_json:
        typer.echo(json.dumps(result, indent=2, sort_keys=True))
        return
    for key, value in sorted(result.items()):
        if isinstance(value, list):
            value = ", ".join(map(str, value)) or "none"
        typer.echo(f"{key}: {value}")


app.command("config-check")(config_check_command(
    "matcher", "Matcher", "services.matcher.config:load_config"))
