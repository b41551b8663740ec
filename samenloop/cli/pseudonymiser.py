"""`samenloop pseudonymiser …`: run the VOPRF key holder (trusted third party)."""

from __future__ import annotations

from pathlib import Path

import typer

from samenloop.cli._app import cli_app
from samenloop.cli._config_check import config_check_command
from samenloop.cli._errors import exit_with
from services.common.logging import configure_logging, quiet_grpc_core
from services.common.tracing import configure_tracing

app = cli_app()


@app.command()
def serve(
    config: Path = typer.Option(..., "--config", "-c", help="Pseudonymiser YAML configuration."),
    bind: str = typer.Option(None, help="Override the `bind` address (host:port)."),
) -> None:
    """Serve BlindEvaluate over mTLS until SIGTERM/SIGINT (JSON log lines on stderr)."""
    quiet_grpc_core()
    from services.common.health_http import start_health
    from services.common.server import serve_until_signalled, stop_on_signal
    from services.pseudonymiser.config import load_config
    from services.pseudonymiser.server import start

    configure_logging("pseudonymiser")
    configure_tracing("pseudonymiser")
    with exit_with():
        cfg = load_config(config)
        probes = start_health(cfg.health, "pseudonymiser")
        health = probes[0] if probes else None
        stop = stop_on_signal(health)
        running = start(cfg, bind=bind, health=health)
    try:
        serve_until_signalled(running, health=health, stop=stop)
    finally:
        if probes:
            probes[1].stop()


@app.command("public-key")
def public_key(
    config: Path = typer.Option(..., "--config", "-c", help="Pseudonymiser YAML configuration."),
) -> None:
    """Print the key id and public key that gateways pin (base64)."""
    import base64

    from services.pseudonymiser.config import load_config
    from services.pseudonymiser.server import load_key

    with exit_with():
        key = load_key(load_config(config))
    typer.echo(f"key_id: {key.key_id}")
    typer.echo(f"public_key: {base64.b64encode(key.public_key.to_bytes()).decode()}")


app.command("config-check")(config_check_command(
    "pseudonymiser", "Pseudonymiser", "services.pseudonymiser.config:load_config"))
