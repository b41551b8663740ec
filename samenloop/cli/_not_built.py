"""Placeholder group for a role whose commands are not built yet.

It prints which part is missing and exits with status 2, never invented output.
"""

from __future__ import annotations

import typer

from samenloop.cli._app import cli_app

NOT_BUILT_EXIT_CODE = 2


def not_built_group(name: str, help_text: str) -> typer.Typer:
    group = cli_app(
        help=f"{help_text} (not built yet)", invoke_without_command=True, no_args_is_help=False
    )

    @group.callback()
    def _not_built(ctx: typer.Context) -> None:
        typer.echo(
            f"samenloop {name}: not built yet. This role's commands are tracked as an open issue; "
            "nothing was run.",
            err=True,
        )
        raise typer.Exit(code=NOT_BUILT_EXIT_CODE)

    return group
