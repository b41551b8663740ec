"""The one `samenloop` command: a group per role, and honest refusals for unbuilt groups."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
import typer.main
from typer.core import TyperGroup, TyperOption
from typer.testing import CliRunner

from samenloop.cli._not_built import NOT_BUILT_EXIT_CODE, not_built_group
from samenloop.cli.main import _GROUPS, app


def _is_missing(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is None

ROLES = {"pki", "pseudonymiser", "matcher", "gateway", "policy", "audit", "inbox", "synth", "demo"}
REPO = Path(__file__).resolve().parents[1]
NOT_BUILT = {name for name, (module, _) in _GROUPS.items() if _is_missing(module)}


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


# --- conventions every command follows ------------------------------------------------------


def _commands(group: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path under `group`, groups included (built from the real app)."""
    found = [path]
    if isinstance(group, TyperGroup):
        for name in group.list_commands(None):  # type: ignore[arg-type]
            sub = group.get_command(None, name)  # type: ignore[arg-type]
            assert sub is not None
            found.extend(_commands(sub, (*path, name)))
    return found


ROOT = typer.main.get_command(app)
COMMANDS = [p for p in _commands(ROOT) if not (p and p[0] in NOT_BUILT)]


def _options(path: tuple[str, ...]) -> list[TyperOption]:
    cmd: Any = ROOT
    for name in path:
        assert isinstance(cmd, TyperGroup)
        cmd = cmd.get_command(None, name)  # type: ignore[arg-type]
        assert cmd is not None
    return [p for p in cmd.params if isinstance(p, TyperOption)]


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) or "samenloop" for p in COMMANDS])
def test_every_command_takes_dash_h_and_shows_readable_types(path: tuple[str, ...]) -> None:
    short = CliRunner().invoke(app, [*path, "-h"], terminal_width=200)
    long = CliRunner().invoke(app, [*path, "--help"], terminal_width=200)
    assert short.exit_code == 0, short.output
    assert short.output == long.output
    usage = short.output.strip().splitlines()[0]
    assert "{" not in usage, usage
    for raw_type in ("<bool>", "<str>", "<path>", "<int>", "<list", "{file}"):
        assert raw_type not in short.output, (raw_type, short.output)
    # a flag takes no value, so its row shows no type between the names and the help
    assert re.search(r"--help\s+-h\s+Show this message", short.output), short.output


def test_required_and_optional_arguments_read_as_in_every_unix_usage_line() -> None:
    out = CliRunner().invoke(app, ["policy", "verify", "-h"], terminal_width=200).output
    assert "Usage: samenloop policy verify [OPTIONS] FILE" in out
    out = CliRunner().invoke(app, ["policy", "new", "-h"], terminal_width=200).output
    assert "Usage: samenloop policy new [OPTIONS] [OUT]" in out
    out = CliRunner().invoke(app, ["gateway", "check", "-h"], terminal_width=200).output
    assert "--as-of" in out and "YYYY-MM-DD" in out


DATE_WORDS = ("date", "as of", "today")
MACHINE_WORDS = ("machine",)


def test_one_date_option_and_one_machine_output_option_everywhere() -> None:
    date_options: set[str] = set()
    machine_options: set[str] = set()
    for path in COMMANDS:
        for option in _options(path):
            text = (option.help or "").lower()
            names = set(option.opts) | set(option.secondary_opts)
            if any(w in text for w in DATE_WORDS) and "--catalogue" not in names:
                date_options |= {n for n in names if n.startswith("--")}
            if any(w in text for w in MACHINE_WORDS) and "--report" not in names:
                machine_options |= {n for n in names if n.startswith("--")}
    assert date_options == {"--as-of"}
    assert machine_options == {"--json"}


@pytest.mark.parametrize(
    "args",
    [
        ["policy", "revoke", "p", "--reason", "end_of_use", "--key", "k", "--officer", "o"],
        ["matcher", "purge", "--config", "matcher.yaml"],
    ],
)
def test_irreversible_actions_refuse_without_a_terminal_or_yes(args: list[str]) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"error: {' '.join(args[:2])} cannot be undone and there is no terminal to confirm it "
        "on; add --yes to run it anyway"
    ]


def _on_a_terminal(args: list[str], answer: bytes) -> tuple[int, str]:
    """Run `samenloop ARGS` with stdin, stdout and stderr on a pseudo-terminal; type `answer`."""
    import os
    import pty

    main, child = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "samenloop.cli.main", *args],
        stdin=child, stdout=child, stderr=child, close_fds=True,
    )
    os.close(child)
    output = b""
    sent = False
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
        if not sent and b"[y/N]" in output:
            os.write(main, answer)
            sent = True
    os.close(main)
    return proc.wait(timeout=60), output.decode(errors="replace")


def test_revoke_on_a_terminal_asks_and_no_means_nothing_is_sent() -> None:
    # no matcher is given: had the command gone on, it would fail on the missing --matcher
    code, out = _on_a_terminal(["policy", "revoke", "p", "--reason", "end_of_use", "--key", "k",
                                "--officer", "o"], b"n\n")
    assert "Revoke policy p?" in out
    assert code == 1
    assert "nothing done" in out
    assert "--matcher" not in out


def test_purge_on_a_terminal_goes_on_after_yes(tmp_path: Path) -> None:
    missing = tmp_path / "absent.yaml"
    code, out = _on_a_terminal(["matcher", "purge", "--config", str(missing)], b"y\n")
    assert "cannot be undone" in out
    assert code != 0 and "absent.yaml" in out  # it went on, to the (missing) configuration


def test_error_messages_do_not_show_python_lists() -> None:
    """A list in a message reads `a, b, c`, never `['a', 'b', 'c']`: no f-string in the code
    formats a sorted/list/set/tuple(...) call, or a list-named variable with !r."""
    call = re.compile(r"\{\s*(sorted|list|set|tuple)\(")
    listy = re.compile(r"\{[^{}]*(names|keys|extra|missing|allowed|choices|codes)[^{}]*!r\}")
    offenders = []
    for package in ("domain", "policies", "services", "crypto", "samenloop"):
        for source in (REPO / package).rglob("*.py"):
            if "/v1/" in str(source):
                continue
            for number, line in enumerate(source.read_text().splitlines(), start=1):
                if ('f"' in line or "f'" in line) and (call.search(line) or listy.search(line)):
                    offenders.append(f"{source.relative_to(REPO)}:{number}: {line.strip()}")
    assert offenders == []


def test_the_lock_pins_every_dependency_of_pyproject_with_hashes() -> None:
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
    from packaging.version import Version

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = [Requirement(r) for r in project["dependencies"]]
    wanted += [Requirement(r) for r in project["optional-dependencies"]["dev"]]
    build = tomllib.loads((REPO / "pyproject.toml").read_text())["build-system"]["requires"]
    wanted += [Requirement(r) for r in build]
    pins: dict[str, Version] = {}
    text = (REPO / "requirements.lock").read_text()
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        head = block.strip().splitlines()[0] if block.strip() else ""
        m = re.match(r"([A-Za-z0-9_.-]+)==([^\s\\;]+)", head)
        if m:
            assert "--hash=sha256:" in block, f"{m.group(1)} has no hash"
            pins[canonicalize_name(m.group(1))] = Version(m.group(2))
    for req in wanted:
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not in requirements.lock; run `make lock`"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock pins {req.name}=={pins[name]}, outside {req.specifier}; "
            "run `make lock`"
        )


def test_the_licence_is_an_spdx_expression() -> None:
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["license"] == "EUPL-1.2"
    build = tomllib.loads((REPO / "pyproject.toml").read_text())["build-system"]["requires"]
    assert any(r.replace(" ", "").startswith("setuptools>=77") for r in build)
