"""`samenloop gateway audit …`: the gateway's own audit log and its witness of the central log.

`check` exits 0 when the local hash chain holds, the stored evidence verifies and no alarm
was raised; 1 with one line naming the first problem otherwise; 2 when the configuration or
the matcher could not be used (the local checks still ran and are reported first).
"""

from __future__ import annotations

from pathlib import Path

import typer

from samenloop.cli._app import cli_app
from samenloop.cli.gateway_run import CONFIG, EXIT_OK, EXIT_REJECTED, EXIT_UNUSABLE

app = cli_app(help="The gateway's audit log and its witness of the central audit log.")


@app.command("check")
def check(
    config: Path = CONFIG,
    offline: bool = typer.Option(
        False, "--offline", help="Check only what is stored here; do not ask the matcher."),
) -> None:
    """Verify the local hash chain, the stored checkpoints and proofs, and the central log.

    Exit 0: all holds. Exit 1: the first problem in one line (a rewritten local entry, a
    forked, rewritten or shrunk central log, a bad signature, a failed inclusion proof).
    Exit 2: the configuration or the matcher could not be used.
    """
    from samenloop.cli.gateway_run import _one_line_errors, _start
    from services.partner_gateway.audit_check import check as run_check

    with _one_line_errors():
        gw = _start(config)
        try:
            report = run_check(gw, online=not offline)
        finally:
            gw.close()
    if report.problems:
        more = len(report.problems) - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        typer.echo(f"error: {report.problems[0]}{suffix}", err=True)
        raise typer.Exit(EXIT_REJECTED)
    if report.unreachable is not None:
        typer.echo(f"error: the stored evidence holds, but {report.unreachable}", err=True)
        raise typer.Exit(EXIT_UNUSABLE)
    typer.echo(report.summary())
    raise typer.Exit(EXIT_OK)
