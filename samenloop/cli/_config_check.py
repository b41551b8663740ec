"""`samenloop <role> config-check FILE`: validate a service's settings and print them.

The same loader the service runs with, so what is printed is what `serve` would use: the file
with environment overrides applied, relative paths resolved, defaults filled in. Secrets are
never printed: settings name key files (the paths are shown), and a database password is elided.
"""

from __future__ import annotations

import json
from typing import Any

import typer
import yaml


def print_effective(effective: dict[str, Any], source: str, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(effective, indent=2, sort_keys=True))
    else:
        typer.echo(f"# effective configuration of {source} (environment applied, secrets elided)")
        typer.echo(yaml.safe_dump(effective, sort_keys=True, allow_unicode=True).rstrip())
    typer.echo(f"{source}: configuration OK", err=True)
