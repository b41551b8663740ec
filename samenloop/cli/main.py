"""Entry point of the `samenloop` command.

Each role has its own group, defined in its own module under `samenloop.cli`; this module only
assembles them. A group whose issue is not built yet is registered through `not_built_yet`, which
says so and exits non-zero, so nobody mistakes an empty command for a working one.
"""

from __future__ import annotations

import typer

from samenloop import __version__
from samenloop.cli._app import cli_app
from samenloop.cli._not_built import not_built_group

app = cli_app(
    name="samenloop",
    help="Privacy-preserving signal matching for the Wams: one command, a group per role.",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"samenloop {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """samenloop: partners keep identities at home; a matcher sees only pseudonyms."""


_GROUPS: dict[str, tuple[str, str]] = {
    # name: (module providing `app`, help text)
    "pki": ("samenloop.cli.pki", "Development CA, certificates and key files for every role."),
    "pseudonymiser": (
        "samenloop.cli.pseudonymiser",
        "Run the VOPRF key holder (trusted third party).",
    ),
    "matcher": ("samenloop.cli.matcher", "Run and maintain the central matcher."),
    "gateway": ("samenloop.cli.gateway", "Partner gateway: check, pseudonymise and send exports."),
    "policy": (
        "samenloop.cli.policy",
        "Privacy officer: write, lint, sign, simulate and publish policies.",
    ),
    "audit": ("samenloop.cli.audit", "Read and verify the append-only audit log."),
    "inbox": ("samenloop.cli.inbox", "Wijkteam inbox: alerts, sealed disclosures, assignments."),
    "synth": ("samenloop.cli.synth", "Generate a synthetic city with its truth, for the demo."),
    "demo": ("samenloop.cli.demo", "Run the whole flow end to end on local data."),
}


def _register_groups() -> None:
    import importlib

    for name, (module_name, help_text) in _GROUPS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            app.add_typer(not_built_group(name, help_text), name=name, help=help_text)
            continue
        app.add_typer(module.app, name=name, help=help_text)


_register_groups()

if __name__ == "__main__":
    app()
