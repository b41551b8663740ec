"""`samenloop demo`: the whole system end to end, on a synthetic city or on given data.

    samenloop demo [--households N] [--seed S] [--workdir W] [--serve]
    samenloop demo --input DIR --out FILE [--workdir W]

What it runs and what it prints: docs/demo.md. Exit 0 only if every check holds.
"""

from __future__ import annotations

import json
import shutil
import signal
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from samenloop.cli._app import cli_app

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_UNUSABLE = 2
DEFAULT_HOUSEHOLDS = 2000
DEFAULT_SEED = 7
SHOWN_ALERTS = 3

app = cli_app(invoke_without_command=True, no_args_is_help=False)


@app.callback()
def demo(
    households: int = typer.Option(
        DEFAULT_HOUSEHOLDS, "--households", "-n", min=10, max=200_000,
        help="Households in the synthetic city."),
    seed: int = typer.Option(DEFAULT_SEED, "--seed", help="Seed of the synthetic city."),
    input_dir: Path = typer.Option(
        None, "--input", help="Run on this directory of given data instead of a city "
        "(docs/demo.md); needs --out."),
    out: Path = typer.Option(None, "--out", help="Write the result as JSON here."),
    workdir: Path = typer.Option(
        None, "--workdir", help="Keep everything (PKI, configs, databases, logs) here; it must "
        "not exist or be empty. Default: a temporary directory, removed afterwards."),
    serve: bool = typer.Option(
        False, "--serve", help="Leave the inbox running afterwards and print its URL and login."),
) -> None:
    """Run the whole flow end to end over mTLS and print an honest scorecard."""
    if input_dir is not None and out is None:
        _fail("--input needs --out FILE for the result")
    if workdir is not None and workdir.exists() and any(workdir.iterdir()):
        _fail(f"{workdir} is not empty; give a new or empty --workdir")
    work = workdir or Path(tempfile.mkdtemp(prefix="samenloop-demo-"))
    work.mkdir(parents=True, exist_ok=True)
    keep = workdir is not None or serve
    console = Console(highlight=False)
    code = _run(console, work, households, seed, input_dir, out, serve, keep)
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    raise typer.Exit(code)


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(EXIT_UNUSABLE)


def _run(console: Console, work: Path, households: int, seed: int, input_dir: Path | None,
         out: Path | None, serve: bool, keep: bool) -> int:
    from samenloop.demo import inputs, report
    from samenloop.demo.flow import FlowError
    from samenloop.demo.policies import PolicyStepError
    from samenloop.demo.processes import ServiceError
    from samenloop.demo.run import Stages, run_demo

    today = date.today()
    if input_dir is not None:
        console.print(f"samenloop demo on {input_dir}; work directory {work}")

        def factory(w: Path) -> inputs.DemoData:
            return inputs.given_data(input_dir, w, today)
    else:
        console.print(f"samenloop demo: a synthetic city of {households} households "
                      f"(seed {seed}); work directory {work}")

        def factory(w: Path) -> inputs.DemoData:
            return inputs.synthetic_city(w / "city", households, seed, today)

    stages = Stages(console)
    try:
        result, services = run_demo(factory, work, stages, serve=serve)
    except (FlowError, PolicyStepError, ServiceError, inputs.InputError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        console.print(f"logs: {work / 'logs'}")
        return EXIT_UNUSABLE
    try:
        report.print_report(console, result)
        if keep:
            console.print(f"work directory kept: {work}; the matcher's database: "
                          f"sqlite:///{result.matcher_database}")
        if out is not None:
            out.write_text(json.dumps(report.as_document(result), indent=2, ensure_ascii=False)
                           + "\n", encoding="utf-8")
            console.print(f"result written to {out}")
        if serve and result.inbox_url and result.login:
            _serve(console, result)
    finally:
        services.stop_all()
    return EXIT_OK if result.ok else EXIT_CHECK_FAILED


def _serve(console: Console, result: Any) -> None:
    """Every service keeps running until Ctrl-C (or SIGTERM); then all are stopped."""
    user, password = result.login
    console.print(f"\ninbox: {result.inbox_url}  login: {user} / {password}")
    console.print(f"work directory: {result.work}; press Ctrl-C to stop")
    for signum in (signal.SIGINT, signal.SIGTERM):  # also when started with SIGINT ignored
        signal.signal(signum, signal.default_int_handler)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        console.print("stopping the services")
