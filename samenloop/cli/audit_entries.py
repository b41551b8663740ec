"""`samenloop audit show` and `samenloop audit export`: read the matcher's audit log.

`show` prints entries for people (a table, or `--json`); `export` writes them for a supervisor
as JSON Lines, one Logboek Dataverwerkingen record per line: each line is the entry's leaf, the
exact bytes the Merkle tree hashes, so a supervisor can recompute every leaf hash from the file.
Both read over the API with a privacy officer's certificate (what that officer may see; the
matcher logs the reading) or, with `--database-url`, straight from the matcher's database.
"""

from __future__ import annotations

import difflib
import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import typer

from samenloop.cli._app import json_option
from samenloop.cli._audit_source import Entry, Filters, from_api, from_database
from samenloop.cli._errors import exit_with
from samenloop.cli.policy import (
    CA_OPTION,
    CERT_OPTION,
    KEY_OPTION,
    MATCHER_OPTION,
    SERVER_NAME_OPTION,
    TLS_DIR_OPTION,
    TLS_NAME_OPTION,
    _Remote,
)

TIMEOUT = 60.0
_RELATIVE = re.compile(r"(\d+)([dh])")

SINCE_OPTION = typer.Option(
    None, "--since", help="Only entries from this moment on: YYYY-MM-DD, YYYY-MM-DDTHH:MM "
    "(UTC unless an offset follows), or a span back from now such as 24h or 7d.")
TYPE_OPTION = typer.Option(None, "--type", help="Only this event, e.g. alert_viewed "
                           "(docs/matcher.md lists the events).")
POLICY_OPTION = typer.Option(None, "--policy", help="Only entries under this policy id.")
DATABASE_OPTION = typer.Option(
    None, "--database-url", help="Read the matcher's database directly instead of the API "
    "(sqlite:///PATH or postgresql+psycopg://USER@HOST/DB); reads everything, writes nothing.")


def parse_since(value: str | None, now: datetime | None = None) -> datetime | None:
    """`--since` as a UTC datetime; a bad value is a one-line BadParameter."""
    if not value:
        return None
    now = now or datetime.now(UTC)
    m = _RELATIVE.fullmatch(value.strip())
    if m:
        amount = int(m.group(1))
        return now - (timedelta(days=amount) if m.group(2) == "d" else timedelta(hours=amount))
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a time; write YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS][+HH:MM] or a "
            "span such as 24h or 7d") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def check_type(value: str | None) -> str:
    """An event name from the catalogue, or a BadParameter with the nearest names."""
    from services.matcher.audit_catalogue import EVENTS

    if not value:
        return ""
    if value in EVENTS:
        return value
    near = difflib.get_close_matches(value, list(EVENTS), n=3)
    hint = f"; did you mean {' or '.join(near)}?" if near else \
        f"; one of: {', '.join(sorted(EVENTS))}"
    raise typer.BadParameter(f"{value!r} is not an audit event{hint}")


@contextmanager
def _entries(filters: Filters, database_url: str | None, remote: _Remote | None
             ) -> Iterator[Iterator[Entry]]:
    if database_url:
        yield from_database(database_url, filters)
        return
    assert remote is not None
    from samenloop.v1 import audit_pb2_grpc
    from services.common.tls import secure_channel

    channel = secure_channel(remote.target, remote.material, server_role="matcher",
                             server_name=remote.server_name)
    try:
        yield from_api(audit_pb2_grpc.AuditServiceStub(channel), filters, TIMEOUT)
    finally:
        channel.close()


def _remote_or_none(database_url: str | None, *args: Any) -> _Remote | None:
    return None if database_url else _Remote(*args)


def _subject(e: Entry) -> str:
    if not e.data_subject_id:
        return "-"
    kind = e.data_subject_id_type.removesuffix("_pseudonym")
    return f"{kind}:{e.data_subject_id[:12]}…"


def _details(e: Entry) -> str:
    keep = {k: v for k, v in sorted(e.attributes.items()) if v}
    return " ".join(f"{k}={v}" for k, v in keep.items())


def _row(e: Entry) -> list[str]:
    policy = f"{e.policy_id}@{e.policy_version}" if e.policy_id and e.policy_version else \
        (e.policy_id or "-")
    return [str(e.index), e.end_time.strftime("%Y-%m-%dT%H:%M:%SZ"), e.name, e.status,
            f"{e.actor_organisation}/{e.actor_role}", _subject(e), policy, _details(e)]


def _as_json(e: Entry) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(e.leaf) if e.leaf else {}
    return {"index": e.index, "entry_format": e.entry_format,
            "content_purged": e.content_purged, "record": record}


def show(
    since: str = SINCE_OPTION,
    event: str = TYPE_OPTION,
    policy: str = POLICY_OPTION,
    limit: int = typer.Option(100, "--limit", min=0, help="Show at most this many (0: all)."),
    as_json: bool = json_option(),
    database_url: str = DATABASE_OPTION,
    matcher: str = MATCHER_OPTION,
    tls_dir: Path = TLS_DIR_OPTION,
    tls_name: str = TLS_NAME_OPTION,
    ca: Path = CA_OPTION,
    cert: Path = CERT_OPTION,
    key: Path = KEY_OPTION,
    server_name: str = SERVER_NAME_OPTION,
) -> None:
    """Print audit entries, oldest first: a table, or --json (index, format and record)."""
    from samenloop.cli.policy import _table

    filters = Filters(check_type(event), policy or "", parse_since(since))
    remote = _remote_or_none(database_url, matcher, tls_dir, tls_name, ca, cert, key,
                             server_name)
    shown: list[Entry] = []
    more = False
    with exit_with(1, peer="the matcher"), _entries(filters, database_url, remote) as entries:
        for e in entries:
            if limit and len(shown) == limit:
                more = True
                break
            shown.append(e)
    if as_json:
        typer.echo(json.dumps([_as_json(e) for e in shown], ensure_ascii=False, indent=2))
        return
    _table(["index", "time", "event", "status", "actor", "subject", "policy", "details"],
           [_row(e) for e in shown])
    if more:
        typer.echo(f"(the first {limit}; raise --limit, narrow with --since/--type/--policy, "
                   "or use `samenloop audit export`)", err=True)


def export(
    out: Path = typer.Option(None, "--out", "-o", help="Write to this file (default: stdout)."),
    since: str = SINCE_OPTION,
    event: str = TYPE_OPTION,
    policy: str = POLICY_OPTION,
    database_url: str = DATABASE_OPTION,
    matcher: str = MATCHER_OPTION,
    tls_dir: Path = TLS_DIR_OPTION,
    tls_name: str = TLS_NAME_OPTION,
    ca: Path = CA_OPTION,
    cert: Path = CERT_OPTION,
    key: Path = KEY_OPTION,
    server_name: str = SERVER_NAME_OPTION,
) -> None:
    """Write entries as JSON Lines for a supervisor: one Logboek Dataverwerkingen record per
    line, byte for byte the entry's leaf (RFC 8785), oldest first."""
    filters = Filters(check_type(event), policy or "", parse_since(since))
    remote = _remote_or_none(database_url, matcher, tls_dir, tls_name, ca, cert, key,
                             server_name)
    written = earlier = purged = 0
    with exit_with(1, peer="the matcher"):
        target: IO[bytes] = out.open("wb") if out else sys.stdout.buffer
        try:
            with _entries(filters, database_url, remote) as entries:
                for e in entries:
                    if e.content_purged or not e.leaf:
                        purged += 1
                        continue
                    target.write(e.leaf + b"\n")
                    written += 1
                    earlier += e.entry_format != 2
        finally:
            if out:
                target.close()
            else:
                target.flush()
    note = f"; {earlier} written before the Logboek shape keep their first document" \
        if earlier else ""
    skipped = f"; {purged} whose content was purged after retention skipped" if purged else ""
    typer.echo(f"exported {written} entries{note}{skipped}", err=True)
