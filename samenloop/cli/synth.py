"""`samenloop synth city`: a reproducible synthetic city for the demo and end-to-end tests.

A thin shell over `samenloop.synth`; what the city looks like and how truth.json is computed is
in docs/synth.md. The output holds personal data of synthetic people only.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

from samenloop.cli._app import cli_app

app = cli_app()


def _day(text: str | None) -> date:
    if text is None:
        return date.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date; write YYYY-MM-DD") from None


@app.command()
def city(
    households: int = typer.Option(
        ..., "--households", "-n", min=1, max=1_000_000, help="Number of households (addresses)."
    ),
    seed: int = typer.Option(..., "--seed", "-s", help="Seed: the same seed gives the same files."),
    out: Path = typer.Option(..., "--out", "-o", help="Directory to write the city into."),
    invalid_share: float = typer.Option(
        0.01,
        "--invalid-share",
        min=0.0,
        max=0.5,
        help="Share of invalid rows added to each signal export (0 to 0.5).",
    ),
    as_of: str = typer.Option(
        None, "--as-of", help="The day the exports are made (YYYY-MM-DD); default today."
    ),
) -> None:
    """Generate a Dutch-like city: exports per partner, BRP links, withdrawals, inquiries, truth."""
    from samenloop.synth import generate_city, write_city

    day = _day(as_of)
    if out.exists() and not out.is_dir():
        typer.echo(f"error: {out} exists and is not a directory; choose another --out", err=True)
        raise typer.Exit(2)
    model = generate_city(households, seed, day)
    truth = write_city(model, out, invalid_share=invalid_share)
    typer.echo(f"city of {households} households (seed {seed}, as of {day}) written to {out}")
    for policy_id, entry in truth["policies"].items():
        typer.echo(f"  {policy_id} ({entry['mode']}): {len(entry['flagged'])} households to flag")
    typer.echo(
        f"  invalid rows: {len(truth['rejected_rows'])}; inquiries: {len(truth['inquiries'])}"
    )
    typer.echo("  synthetic people only; see truth.json and manifest.json")
