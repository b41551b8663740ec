"""`samenloop <role> config-check FILE`: validate a service's settings and print them.

The same loader the service runs with, so what is printed is what `serve` would use: the file
with environment overrides applied, relative paths resolved, defaults filled in. Secrets are
never printed: settings name key files (the paths are shown), and a database password is elided.
Settings that load but are probably a mistake (a service's `warnings()`) are said on stderr as
`warning: …` lines; they do not fail the check.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
import yaml

from samenloop.cli._app import json_option


def print_effective(effective: dict[str, Any], source: str, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(effective, indent=2, sort_keys=True))
    else:
        typer.echo(f"# effective configuration of {source} (environment applied, secrets elided)")
        typer.echo(yaml.safe_dump(effective, sort_keys=True, allow_unicode=True).rstrip())
    typer.echo(f"{source}: configuration OK", err=True)


def print_warnings(settings: object, source: str) -> None:
    """The settings' own `warnings()` (if it has them), one `warning:` line each, on stderr."""
    for text in getattr(settings, "warnings", list)():
        typer.echo(f"warning: {source}: {text}", err=True)


def config_check_command(service: str, title: str, loader: str) -> Callable[..., None]:
    """The `config-check` command of a service whose settings load with `loader`
    ("module:function", imported only when the command runs, so the CLI starts fast)."""

    def config_check(
        file: Path = typer.Argument(..., help=f"{title} YAML configuration."),
        as_json: bool = json_option("Print JSON instead of YAML."),
    ) -> None:
        from samenloop.cli._errors import exit_with

        module, _, function = loader.partition(":")
        load = getattr(importlib.import_module(module), function)
        with exit_with():
            settings = load(file)
        print_warnings(settings, str(file))
        print_effective(settings.effective(), str(file), as_json)

    config_check.__doc__ = (
        f"Validate the configuration (file + SAMENLOOP_{service.upper()}__* environment) and "
        "print the effective settings, secrets elided.")
    return config_check
