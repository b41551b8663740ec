"""The conventions every `samenloop` command follows, in one place.

- `-h` works wherever `--help` does;
- help shows value types as words people read (`PATH`, `TEXT`, `YYYY-MM-DD`, `[a|b]`), flags
  show no type at all, and a required argument is written `FILE` in the usage line, an optional
  one `[FILE]` (Typer's own rendering shows `<bool>`, `<str>` and `{file}`);
- one spelling for shared options: `--as-of` for "evaluate as if today were", `--json` for
  machine output, `--yes` to skip the confirmation of an irreversible action.

Every group builds its Typer app with `cli_app()`; commands then get these settings without
repeating them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

__all__ = [
    "CONTEXT_SETTINGS",
    "DATE_METAVAR",
    "as_of_option",
    "cli_app",
    "confirm_irreversible",
    "json_option",
    "yes_option",
]

CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"]}
DATE_METAVAR = "YYYY-MM-DD"

_WORDS = {
    "str": "TEXT",
    "int": "INTEGER",
    "float": "NUMBER",
    "path": "PATH",
    "file": "FILE",
    "directory": "DIR",
    "bool": "",
    "datetime": DATE_METAVAR,
}


def _word(typer_label: str) -> str:
    """Typer's `<label>` as a help word: `<str>` -> TEXT, `<a|b>` -> [a|b], `<list[str]>` ->
    TEXT (a repeatable option says so in its help)."""
    label = typer_label.strip()
    if label.startswith("<") and label.endswith(">"):
        label = label[1:-1]
    if label.startswith("list[") and label.endswith("]"):
        label = label[5:-1]
    if "|" in label:
        return f"[{label}]"
    return _WORDS.get(label, label.upper())


class _Option(TyperOption):
    """An option whose type reads as a word; a flag shows none."""

    def display_type(self, ctx: Any) -> str:
        if self.is_flag or self.count:
            return ""
        return _word(super().display_type(ctx))


class _Argument(TyperArgument):
    """An argument named in capitals, `FILE` when required and `[FILE]` when not."""

    def display_type(self, ctx: Any) -> str:
        return _word(super().display_type(ctx))

    def _usage_display_name(self) -> str:
        name = self.display_name_raw
        if self.nargs != 1:
            name += "..."
        return name if self.required else f"[{name}]"


def _tidy(params: list[Any]) -> None:
    for param in params:
        if type(param) is TyperOption:
            param.__class__ = _Option
        elif type(param) is TyperArgument:
            param.__class__ = _Argument
            if param.metavar is None and param.name:
                param.metavar = param.name.upper()


class Command(TyperCommand):
    """A Typer command with the conventions above."""

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)
        _tidy(params)
        return params


class Group(TyperGroup):
    """A Typer group with the conventions above (its own options and its help option)."""

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)
        _tidy(params)
        return params


class _App(typer.Typer):
    """`typer.Typer` whose commands default to `Command`."""

    def command(self, *args: Any, **kwargs: Any) -> Callable[[Any], Any]:
        kwargs.setdefault("cls", Command)
        return super().command(*args, **kwargs)


def cli_app(**kwargs: Any) -> typer.Typer:
    """A command group following the conventions: `-h`, readable types, no tracebacks shown
    for a usage mistake, help when called without a command."""
    kwargs.setdefault("no_args_is_help", True)
    kwargs.setdefault("pretty_exceptions_enable", False)
    kwargs.setdefault("context_settings", dict(CONTEXT_SETTINGS))
    kwargs.setdefault("cls", Group)
    return _App(**kwargs)


def as_of_option(help: str = "Evaluate as if today were this date (default: today).") -> Any:
    """`--as-of YYYY-MM-DD`: the one date option of every command that evaluates dates."""
    return typer.Option(None, "--as-of", metavar=DATE_METAVAR, help=help)


def json_option(help: str = "Print machine-readable JSON instead of text.") -> Any:
    """`--json`: the one machine-output option."""
    return typer.Option(False, "--json", help=help)


def yes_option() -> Any:
    """`--yes`/`-y`: skip the confirmation of an irreversible action (for scripts)."""
    return typer.Option(
        False, "--yes", "-y", help="Do not ask for confirmation (needed without a terminal)."
    )


def confirm_irreversible(question: str, *, yes: bool, command: str) -> None:
    """Ask `question` on a terminal; without one, refuse unless `--yes` was given.

    Exits 1 with one line when the answer is no, or when there is nobody to ask.
    """
    if yes:
        return
    if not sys.stdin.isatty():
        typer.echo(
            f"error: {command} cannot be undone and there is no terminal to confirm it on; "
            "add --yes to run it anyway",
            err=True,
        )
        raise typer.Exit(1)
    if not typer.confirm(question, default=False, err=True):
        typer.echo("nothing done", err=True)
        raise typer.Exit(1)
