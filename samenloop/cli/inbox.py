"""`samenloop inbox …`: the wijkteam's inbox, as a local web app and on the command line.

The CLI does what the web pages do, with the same rules and the same audit trail: every call
names the team member (`--user`, a team-local id, or SAMENLOOP_INBOX_USER) and identities are
opened only with a coded `--reason` (list `view_reason`). Passwords for local accounts are read
from a prompt or stdin, never from an argument.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import typer

from samenloop.cli._app import cli_app, json_option
from samenloop.cli._errors import exit_with

app = cli_app()
users_app = cli_app(help="Local team accounts (argon2id).")
app.add_typer(users_app, name="user")

CONFIG = typer.Option(..., "--config", "-c", help="Inbox YAML configuration.")
USER = typer.Option(..., "--user", "-u", envvar="SAMENLOOP_INBOX_USER",
                    help="Your team-local user id (e.g. u-12), recorded in the audit log.")
JSON = json_option()


@contextmanager
def _errors() -> Iterator[None]:
    """The shared one-line error boundary, plus the inbox's own refusals."""
    from domain.errors import DomainError
    from services.wijkteam.accounts import AccountError
    from services.wijkteam.inbox import InboxError

    with exit_with(peer="the matcher"):
        try:
            yield
        except (InboxError, AccountError, DomainError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None


def _settings(config: Path) -> Any:
    from services.wijkteam.settings import load_inbox_settings

    return load_inbox_settings(config)


def _inbox(config: Path) -> Any:
    from services.wijkteam.inbox import Inbox

    return Inbox(_settings(config))


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(asdict(value), default=str))


@app.command()
def serve(config: Path = CONFIG) -> None:
    """Serve the inbox web app (127.0.0.1 by default) until interrupted."""
    from services.common.tracing import configure_tracing
    from services.wijkteam.server import serve as run

    with _errors():
        settings = _settings(config)
        configure_tracing("inbox")
        typer.echo(f"inbox on http://{settings.bind} (team {settings.team})", err=True)
        run(settings)


@app.command("config-check")
def config_check(
    config: Path = typer.Argument(..., help="Inbox YAML configuration."),
    as_json: bool = JSON,
) -> None:
    """Validate the configuration and print the effective settings (key files by path only)."""
    from samenloop.cli._config_check import print_effective

    with _errors():
        settings = _settings(config)
    print_effective(settings.effective(), str(config), as_json)


@app.command()
def alerts(
    config: Path = CONFIG, user: str = USER,
    tab: str = typer.Option("", "--tab", help="new, assigned or closed (default: all)."),
    as_json: bool = JSON,
) -> None:
    """List the team's alerts: policy, life domains, date, area. No identities."""
    with _errors():
        inbox = _inbox(config)
        try:
            items = inbox.list_alerts(user, tab or None)
        finally:
            inbox.close()
    if as_json:
        typer.echo(json.dumps([_jsonable(a) for a in items], indent=2))
        return
    if not items:
        typer.echo("no alerts")
    for a in items:
        title = a.policy.title if a.policy.verified else a.policy.policy_id
        typer.echo(f"{a.alert_id}  {a.state:<9} {a.created.isoformat()}  {title}  "
                   f"[{', '.join(a.domains)}]  {a.policy.area}  {a.regisseur or '-'}")


@app.command()
def show(
    alert: str = typer.Argument(..., help="The alert id (or alerts/ID)."),
    config: Path = CONFIG, user: str = USER,
    reason: str = typer.Option("", "--reason", help="Why you open the disclosed identity: a "
                               "code from the list view_reason. Without it no identity is shown."),
    as_json: bool = JSON,
) -> None:
    """Show one alert; with --reason, its verified disclosures opened with the team's key."""
    with _errors():
        inbox = _inbox(config)
        try:
            detail = inbox.alert(user, alert, view_reason=reason)
        finally:
            inbox.close()
    if as_json:
        typer.echo(json.dumps(_jsonable(detail), indent=2))
        return
    s = detail.summary
    p = s.policy
    typer.echo(f"{s.name}  state: {s.state}  created: {s.created.isoformat()}")
    if p.verified:
        typer.echo(f"policy: {p.title} ({p.policy_id} v{p.version})")
        typer.echo(f"legal basis: {'; '.join(p.legal_basis)}")
        typer.echo(f"purpose: {p.purpose}")
        typer.echo(f"area: {p.area}")
    else:
        typer.echo(f"policy: {p.policy_id} v{p.version} (policy text could not be verified)")
    typer.echo(f"life domains: {', '.join(s.domains)}")
    typer.echo(f"partner kinds: {', '.join(detail.partner_kinds)}")
    for sig in detail.signals:
        typer.echo(f"  signal {sig.signal_type} ({sig.partner_kind}) observed {sig.observed_on}")
    typer.echo(f"regisseur: {s.regisseur or '-'}")
    if detail.decision:
        typer.echo(f"decision: {detail.decision} ({detail.decision_reason})")
    if detail.outcome:
        typer.echo(f"outcome: {detail.outcome}")
    for d in detail.disclosures:
        head = f"disclosure from {d.partner} ({d.partner_kind})"
        if d.status == "opened":
            typer.echo(f"{head}:")
            for name in d.fields:
                if name in d.values:
                    typer.echo(f"  {name}: {d.values[name]}")
        elif d.status == "refused":
            typer.echo(f"{head}: refused ({d.refusal_reason})")
        elif d.status == "unverified":
            typer.echo(f"{head}: disclosure could not be verified; not shown (reported)")
        else:
            typer.echo(f"{head}: sealed ({', '.join(d.fields)}); pass --reason CODE to open")
    for kind, n in detail.pending:
        typer.echo(f"pending: {n} from {kind}")


@app.command()
def assign(
    alert: str = typer.Argument(..., help="The alert id (or alerts/ID)."),
    regisseur: str = typer.Argument(..., help="The regisseur's team-local user id."),
    config: Path = CONFIG, user: str = USER,
) -> None:
    """Assign the one regisseur of an alert ("1 gezin, 1 plan, 1 regisseur")."""
    with _errors():
        inbox = _inbox(config)
        try:
            s = inbox.assign(user, alert, regisseur)
        finally:
            inbox.close()
    typer.echo(f"{s.name}: assigned to {s.regisseur}")


@app.command()
def decide(
    alert: str = typer.Argument(..., help="The alert id (or alerts/ID)."),
    decision: str = typer.Option(..., "--decision", help="contact, no_contact or refer."),
    reason: str = typer.Option(..., "--reason", help="A code from review_decision_reason."),
    config: Path = CONFIG, user: str = USER,
) -> None:
    """Record the regisseur's decision after review (only the assigned regisseur)."""
    with _errors():
        inbox = _inbox(config)
        try:
            s = inbox.decide(user, alert, decision, reason)
        finally:
            inbox.close()
    typer.echo(f"{s.name}: decision recorded ({decision}, {reason})")


@app.command("close")
def close_alert(
    alert: str = typer.Argument(..., help="The alert id (or alerts/ID)."),
    outcome: str = typer.Option(..., "--outcome", help="A code from closure_outcome."),
    config: Path = CONFIG, user: str = USER,
) -> None:
    """Close an alert with an outcome code (after the decision)."""
    with _errors():
        inbox = _inbox(config)
        try:
            s = inbox.close_alert(user, alert, outcome)
        finally:
            inbox.close()
    typer.echo(f"{s.name}: closed ({outcome})")


def _read_password() -> str:
    """From a prompt (twice) on a terminal, else the first line of stdin; never an argument."""
    import getpass

    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            typer.echo("error: the passwords differ; nothing was changed", err=True)
            raise typer.Exit(1)
        return first
    return sys.stdin.readline().rstrip("\r\n")


@users_app.command("add")
def user_add(
    user: str = typer.Argument(..., help="The team-local user id (e.g. u-12), never a name."),
    config: Path = CONFIG,
    replace: bool = typer.Option(False, "--replace", help="Set a new password for an account."),
) -> None:
    """Add a local account; the password comes from a prompt or stdin."""
    from services.wijkteam.accounts import AccountStore

    with _errors():
        store = AccountStore(_settings(config).users_file)
        store.add(user, _read_password(), replace=replace)
    typer.echo(f"account {user} saved in {store.path}")


@users_app.command("remove")
def user_remove(user: str = typer.Argument(...), config: Path = CONFIG) -> None:
    """Remove a local account."""
    from services.wijkteam.accounts import AccountStore

    with _errors():
        AccountStore(_settings(config).users_file).remove(user)
    typer.echo(f"account {user} removed")


@users_app.command("list")
def user_list(config: Path = CONFIG) -> None:
    """List the local accounts (ids only)."""
    from services.wijkteam.accounts import AccountStore

    with _errors():
        for user in AccountStore(_settings(config).users_file).users():
            typer.echo(user)
