"""The demo's data flow through the running services: ingest, inquiries, disclosures.

Exports go through `samenloop gateway ingest` (one process per file, as a partner's data manager
runs it), inquiries through the gateway's library (`services.partner_gateway.inquiry`, what
`samenloop gateway inquire` calls; one process per inquiry would take minutes for a city), and
the team's view through the inbox's library (`services.wijkteam.inbox.Inbox`) with the team's
key, verifying every disclosure as the inbox does (services/common/disclosure.py).
"""

from __future__ import annotations

import csv
import json
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from domain.identifiers.address import Address, parse_address

ROLES = {
    # The asking professional's role code per partner kind (domain/codes.yaml requester_role).
    "housing": "housing_officer",
    "police": "community_police_officer",
    "mental_health": "mental_health_practitioner",
    "municipality": "social_worker",
}
VIEW_REASON = "review_alert"
DEMO_USER = "demo"


class FlowError(Exception):
    """A step of the flow could not run; the message says which and what to look at."""


@dataclass(frozen=True)
class Export:
    """One file to ingest, with the partner that sends it and how to read it."""

    partner_kind: str
    kind: str  # links | signals | withdrawals
    path: Path
    mapping: Path | None = None
    label: str = ""
    """How truth.json names the file (the city's relative path), or empty."""


@dataclass
class FileResult:
    export: Export
    read: int = 0
    rejected: int = 0
    rejected_by_code: dict[str, int] = field(default_factory=dict)

    @property
    def accepted(self) -> int:
        return self.read - self.rejected


def ingest(exports: Iterable[Export], configs: dict[str, Path], work: Path, as_of: date,
           on_file: Callable[[Export], None] | None = None) -> list[FileResult]:
    """Each export in order through its partner's gateway; per file what the gateway did.

    This is `samenloop gateway ingest FILE --kind K [--mapping M] --report R` (the same
    library call, `services.partner_gateway.runner.ingest_paths`), run in this process: a
    process per file costs seconds of start-up each on a small machine.
    """
    from services.partner_gateway.ingest import RowReport
    from services.partner_gateway.runner import ingest_paths, parse_kind
    from services.partner_gateway.runtime import Gateway
    from services.partner_gateway.settings import load_settings

    results = []
    reports = work / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    gateways: dict[str, Gateway] = {}
    try:
        for n, export in enumerate(exports, start=1):
            gw = gateways.get(export.partner_kind)
            if gw is None:
                gw = gateways[export.partner_kind] = Gateway(
                    load_settings(configs[export.partner_kind]))
            report = reports / f"{n:02d}-{export.partner_kind}-{export.kind}.jsonl"
            try:
                with report.open("w", encoding="utf-8") as handle:
                    ingest_paths(gw, [export.path], parse_kind(export.kind), export.mapping,
                                 RowReport(handle), as_of)
            except Exception as exc:  # one line for people; the details are in the report
                raise FlowError(f"ingest of {export.path.name} ({export.partner_kind}) "
                                f"failed: {exc}") from None
            results.append(_count(export, report))
            if on_file is not None:
                on_file(export)
    finally:
        for gw in gateways.values():
            gw.close()
    return results


def _count(export: Export, report: Path) -> FileResult:
    result = FileResult(export)
    for line in report.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        result.read += 1
        if row["outcome"] == "rejected":
            result.rejected += 1
            code = str(row.get("reason_code", ""))
            result.rejected_by_code[code] = result.rejected_by_code.get(code, 0) + 1
    return result


# ------------------------------------------------------------------ inquiries

@dataclass(frozen=True)
class InquiryRow:
    line: int
    partner_kind: str
    policy_id: str
    reason: str
    address: Address | None
    bsn: str | None


def read_inquiries(path: Path, reason_codes: Iterable[str]) -> list[InquiryRow]:
    """`inquiries.csv`; a reason that is not a code is mapped to the nearest code by words."""
    codes = list(reason_codes)
    rows = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            postcode = (row.get("postcode") or "").strip()
            number = (row.get("huisnummer") or "").strip()
            address = None
            if postcode and number:
                address = parse_address(postcode, number,
                                        (row.get("huisletter") or "").strip() or None,
                                        (row.get("huisnummertoevoeging") or "").strip() or None)
            rows.append(InquiryRow(line, row["partner_kind"].strip(), row["policy_id"].strip(),
                                   reason_code(row.get("reason") or "", codes), address,
                                   (row.get("bsn") or "").strip() or None))
    return rows


def reason_code(text: str, codes: list[str]) -> str:
    """The reason as a code: itself if it is one, else the code sharing most words with it,
    else `multiple_problems_suspected` (free text never leaves the gateway)."""
    value = text.strip().lower()
    if value in codes:
        return value
    words = set(value.replace("_", " ").replace("-", " ").split())
    best = max(codes, key=lambda c: len(words & set(c.split("_"))))
    if words & set(best.split("_")):
        return best
    return "multiple_problems_suspected"


def send_inquiries(rows: list[InquiryRow], configs: dict[str, Path], as_of: date,
                   tick: Callable[[], None] | None = None) -> list[dict[str, Any]]:
    """Each inquiry through its partner's gateway; the one-bit answer per inquiry."""
    from services.partner_gateway.inquiry import inquire
    from services.partner_gateway.runtime import Gateway
    from services.partner_gateway.settings import load_settings

    gateways: dict[str, Gateway] = {}
    answers = []
    try:
        for row in rows:
            if row.partner_kind not in configs:
                raise FlowError(f"inquiries.csv line {row.line}: unknown partner_kind "
                                f"{row.partner_kind!r}")
            gw = gateways.get(row.partner_kind)
            if gw is None:
                gw = gateways[row.partner_kind] = Gateway(load_settings(configs[row.partner_kind]))
            address = row.address
            if address is None and row.bsn is not None:
                found = gw.vault.address_of(row.bsn, as_of)
                if found is not None:
                    address = parse_address(found["postcode"], found["huisnummer"],
                                            found.get("huisletter") or None,
                                            found.get("huisnummertoevoeging") or None)
            if address is None:
                # Nothing of its own to ask about: the gateway cannot even form the question.
                answers.append({"partner_kind": row.partner_kind, "policy_id": row.policy_id,
                                "answer": "not_indicated"})
            else:
                answer = inquire(gw, address, policy=row.policy_id, reason=row.reason,
                                 role=ROLES[row.partner_kind])
                answers.append({"partner_kind": row.partner_kind, "policy_id": row.policy_id,
                                "answer": "indicated" if answer.indicated else "not_indicated"})
            if tick is not None:
                tick()
    finally:
        for gw in gateways.values():
            gw.close()
    return answers


# ------------------------------------------------------------------ the team's view

@dataclass
class OpenedDisclosure:
    partner_kind: str
    signal_id: str
    verified: bool
    status: str  # opened | refused | unverified
    fields: dict[str, str]
    refusal_reason: str = ""


@dataclass
class TeamAlert:
    alert_id: str
    team: str
    policy_id: str
    life_domains: list[str]
    partner_kinds: list[str]
    disclosures: list[OpenedDisclosure]
    pending: int


def _inbox(config: Path) -> Any:
    from services.wijkteam.inbox import Inbox
    from services.wijkteam.settings import load_inbox_settings

    return Inbox(load_inbox_settings(config))


def pending_reveal_requests(database: Path) -> int:
    """Reveal requests the gateways have not answered yet, read from the matcher's database
    (the examiner's view: no service offers this count, and a request cancelled because its
    signal was withdrawn is not pending)."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        (count,) = conn.execute(
            "SELECT count(*) FROM reveal_requests WHERE state = 'pending'").fetchone()
    return int(count)


def wait_for_disclosures(database: Path, timeout: float) -> int:
    """Until the gateways answered every reveal request; the number still pending."""
    deadline = time.monotonic() + timeout
    while True:
        waiting = pending_reveal_requests(database)
        if waiting == 0 or time.monotonic() > deadline:
            return waiting
        time.sleep(0.5)


def open_alerts(team_configs: dict[str, Path]) -> list[TeamAlert]:
    """Every alert of every team, its disclosures verified and opened with the team's key."""
    out = []
    for team, cfg in team_configs.items():
        inbox = _inbox(cfg)
        try:
            for summary in reversed(inbox.list_alerts(DEMO_USER)):
                out.append(_open(inbox, team, summary.name))
        finally:
            inbox.close()
    return out


def _open(inbox: Any, team: str, name: str) -> TeamAlert:
    """What the inbox's alert page shows after a reason is chosen (its public API: verified,
    opened, an unverified box reported), keeping each opened box's signal id for the JSON."""
    detail = inbox.alert(DEMO_USER, name, view_reason=VIEW_REASON)
    disclosures = [
        OpenedDisclosure(d.partner_kind, d.signal_id if d.status == "opened" else "",
                         d.status == "opened", d.status, dict(d.values),
                         d.refusal_reason if d.status == "refused" else "")
        for d in detail.disclosures]
    summary = detail.summary
    return TeamAlert(summary.alert_id, team, summary.policy.policy_id, list(summary.domains),
                     list(detail.partner_kinds), disclosures,
                     sum(n for _, n in detail.pending))
