"""The one `samenloop` command: a group per role, and honest refusals for unbuilt groups."""

from __future__ import annotations

import subprocess
import sys

import typer
from typer.testing import CliRunner

from samenloop.cli._not_built import NOT_BUILT_EXIT_CODE, not_built_group
from samenloop.cli.main import _GROUPS, app

ROLES = {"pki", "pseudonymiser", "matcher", "gateway", "policy", "audit", "inbox", "demo"}


def test_every_role_has_a_group() -> None:
    assert set(_GROUPS) == ROLES
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for role in ROLES:
        assert role in result.output


def test_a_group_not_built_yet_says_so_and_exits_non_zero() -> None:
    probe = typer.Typer()
    probe.add_typer(not_built_group("audit", "Read the log."), name="audit")

    @probe.command()
    def other() -> None:  # a second command so Typer keeps "audit" as a subcommand
        pass

    result = CliRunner().invoke(probe, ["audit"])
    assert result.exit_code == NOT_BUILT_EXIT_CODE
    assert "not built yet" in result.output
    assert "nothing was run" in result.output


def test_console_script_runs_as_installed() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "samenloop.cli.main", "--version"],
        capture_output=True, text=True, check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("samenloop ")
