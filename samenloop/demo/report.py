"""The demo's report: printed for people, and the JSON document of `--out`.

The printed report shows a few alerts as the team sees them, with disclosed names and addresses:
in the demo these are synthetic people (or the caller's own given data), and the report goes to
the terminal only, never to a log file.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from rich.console import Console
from rich.table import Table

from samenloop.demo.run import Result

SHOWN_ALERTS = 3
_NAME = ("voorletters", "voorvoegsel", "geslachtsnaam")
_ADDRESS = ("postcode", "huisnummer", "huisletter", "huisnummertoevoeging")


def rows_per_partner(result: Result, *, links_apart: bool = False) -> dict[str, dict[str, int]]:
    """Rows read / accepted / rejected per partner kind, over all its files. `links_apart`:
    the BRP links on a line of their own (thousands of them would hide the municipality's
    signal rows in the printed table)."""
    out: dict[str, Counter[str]] = defaultdict(Counter)
    for f in result.files:
        apart = links_apart and f.export.kind == "links"
        counts = out["municipality (BRP links)" if apart else f.export.partner_kind]
        counts["read"] += f.read
        counts["accepted"] += f.accepted
        counts["rejected"] += f.rejected
    return {k: {"read": c["read"], "accepted": c["accepted"], "rejected": c["rejected"]}
            for k, c in sorted(out.items())}


def as_document(result: Result) -> dict[str, Any]:
    """The `--out` JSON (shape in docs/demo.md and the demo issue)."""
    return {
        "alerts": [
            {"alert_id": a.alert_id, "policy_id": a.policy_id,
             "life_domains": sorted(a.life_domains), "partner_kinds": sorted(a.partner_kinds),
             "disclosures": [{"partner_kind": d.partner_kind, "signal_id": d.signal_id,
                              "verified": d.verified, "fields": dict(sorted(d.fields.items()))}
                             for d in a.disclosures]}
            for a in result.alerts],
        "rows": rows_per_partner(result),
        "inquiries": result.inquiries,
        "audit_verified": result.audit is not None and result.audit.ok,
        "audit": None if result.audit is None else {
            "summary": result.audit.summary, "entries": result.audit.report.entries,
            "checkpoints": result.audit.report.checkpoints,
            "cosignatures_required": result.audit.required,
            "witnessed_size": result.audit.report.witnessed_size},
        "checks": {name: ok for name, ok, _ in result.checks},
        "matcher_database": f"sqlite:///{result.matcher_database}"
        if result.matcher_database else None,
    }


def _person(fields: dict[str, str]) -> str:
    name = " ".join(fields[k] for k in _NAME if fields.get(k))
    address = ""
    if fields.get("postcode"):
        number = fields.get("huisnummer", "") + fields.get("huisletter", "")
        if fields.get("huisnummertoevoeging"):
            number += "-" + fields["huisnummertoevoeging"]
        address = f"{fields['postcode']} {number}"
    contact = fields.get("contactpersoon", "")
    parts = [p for p in (name, address) if p]
    if contact:
        parts.append(f"contact: {contact}")
    return ", ".join(parts) or "(no allowed field in its row)"


def print_report(console: Console, result: Result) -> None:
    console.print()
    rows = Table(title="rows per partner", title_justify="left")
    for column in ("partner", "read", "accepted", "rejected"):
        rows.add_column(column, justify="left" if column == "partner" else "right")
    for kind, c in rows_per_partner(result, links_apart=True).items():
        rows.add_row(kind, str(c["read"]), str(c["accepted"]), str(c["rejected"]))
    console.print(rows)

    per_policy = Counter(a.policy_id for a in result.alerts)
    table = Table(title="alerts per policy", title_justify="left")
    table.add_column("policy")
    table.add_column("alerts", justify="right")
    if result.scores is not None:
        for column in ("expected", "precision", "recall"):
            table.add_column(column, justify="right")
    policies = sorted(set(per_policy) | set(result.scores or {}))
    for pid in policies:
        cells = [pid, str(per_policy.get(pid, 0))]
        if result.scores is not None and pid in result.scores:
            s = result.scores[pid]
            cells += [str(s.expected), f"{s.precision:.3f}", f"{s.recall:.3f}"]
        table.add_row(*cells)
    console.print(table)
    answered = Counter(q["answer"] for q in result.inquiries)
    console.print(f"inquiries: {len(result.inquiries)} "
                  f"({answered['indicated']} indicated, {answered['not_indicated']} not)")

    console.print(f"\nthe first {min(SHOWN_ALERTS, len(result.alerts))} alerts as the team sees "
                  "them (synthetic people only):")
    for alert in result.alerts[:SHOWN_ALERTS]:
        console.print(f"  {alert.policy_id} → {alert.team}")
        console.print(f"    life domains: {', '.join(sorted(alert.life_domains))}")
        for d in alert.disclosures:
            state = "verified" if d.verified else d.status
            shown = _person(d.fields) if d.verified else d.refusal_reason or "not shown"
            console.print(f"    {d.partner_kind:<14} {state}: {shown}")

    if result.audit is not None:
        console.print(f"\naudit verify: {result.audit.summary}")
    console.print("\nwall time per stage:")
    for title, took in result.times:
        console.print(f"  {took:6.1f} s  {title}")
    console.print(f"  {sum(t for _, t in result.times):6.1f} s  total")

    console.print("\nchecks:")
    for name, ok, detail in result.checks:
        mark = "[green]✓[/green]" if ok else "[red]✗[/red]"
        console.print(f"  {mark} {name}: {detail}")
    console.print("[bold green]all checks hold[/bold green]" if result.ok
                  else "[bold red]some checks failed[/bold red]")
