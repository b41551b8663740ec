"""The demo end to end: deployment, data, services, flow, scorecard.

`run_demo` does every stage in order in one work directory and returns a `Result`; the CLI
(samenloop/cli/demo.py) prints it and writes the JSON. Stages report through `Stages`: one line
each with its wall time, and a progress bar for the long ones when the output is a terminal.
"""

from __future__ import annotations

import secrets
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from samenloop.demo import audit_check, checks, deployment, flow, policies
from samenloop.demo.inputs import DemoData
from samenloop.demo.processes import Services, run_cli

DISCLOSURE_TIMEOUT = 120.0
AUDIT_TIMEOUT = 30.0
WITNESSES = 4
"""Cosignatures `audit verify` requires: every one of the four gateways witnesses the log."""
DEMO_PASSWORD_BYTES = 12


class Stages:
    """One line per stage with its wall time; progress bars only on a terminal."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.times: list[tuple[str, float]] = []

    @contextmanager
    def stage(self, title: str) -> Iterator[None]:
        started = time.monotonic()
        yield
        took = time.monotonic() - started
        self.times.append((title, took))
        self.console.print(f"[green]✓[/green] {title} [dim]({took:.1f} s)[/dim]",
                           highlight=False)

    @contextmanager
    def bar(self, label: str, total: int) -> Iterator[Callable[[int], None]]:
        """`advance(n)` moves the bar; nothing is drawn when not on a terminal."""
        if not self.console.is_terminal:
            def nothing(n: int = 1) -> None:
                return None

            yield nothing
            return
        with Progress(TextColumn("  {task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=self.console, transient=True) as progress:
            task = progress.add_task(label, total=total)

            def advance(n: int = 1) -> None:
                progress.advance(task, n)

            yield advance


@dataclass
class Result:
    work: Path
    files: list[flow.FileResult]
    alerts: list[flow.TeamAlert]
    inquiries: list[dict[str, Any]]
    scores: dict[str, checks.Score] | None
    findings: list[checks.Finding]
    scanned: int
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    times: list[tuple[str, float]] = field(default_factory=list)
    matcher_database: Path | None = None
    audit: audit_check.AuditResult | None = None
    inbox_url: str | None = None
    login: tuple[str, str] | None = None

    @property
    def ok(self) -> bool:
        return all(ok for _, ok, _ in self.checks)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_demo(data_factory: Callable[[Path], DemoData], work: Path, stages: Stages, *,
             serve: bool = False) -> tuple[Result, Services]:
    """Every stage; the services are returned still running (the caller stops them, or keeps
    the inbox for `--serve`)."""
    logs = work / "logs"
    services = Services(logs)
    # What the gateway and inbox libraries log in this process goes to a file, as the
    # services' logs do; the terminal shows only the stages and the report.
    from services.common.logging import configure_logging

    configure_logging("demo", stream=(logs / "demo.log").open("a", encoding="utf-8"))
    try:
        result = _run(data_factory, work, stages, services, serve=serve)
    except BaseException:
        services.stop_all()
        raise
    return result, services


def _run(data_factory: Callable[[Path], DemoData], work: Path, stages: Stages,
         services: Services, *, serve: bool) -> Result:
    logs = work / "logs"
    with stages.stage("PKI, keys and configurations (pki dev-setup)"):
        dep = deployment.create(work)
    with stages.stage("input data"):
        data = data_factory(work)
    with stages.stage("policies bound to their teams' keys"):
        prepared = policies.prepare(dep, data.policy_files, work / "policies")
        policies.lint_all(prepared, logs / "policy.log")
        municipalities = {p.municipality for p in prepared if p.municipality}
        municipality = municipalities.pop() if len(municipalities) == 1 else None
    with stages.stage("services up over mTLS: pseudonymiser, matcher, 4 gateways, inbox"):
        matcher_cfg = deployment.write_matcher_config(dep, municipality)
        services.start("pseudonymiser", ["pseudonymiser", "serve", "--config",
                                         str(deployment.write_pseudonymiser_config(dep))])
        migrate = services.start("matcher-migrate", ["matcher", "migrate", "--config",
                                                     str(matcher_cfg)])
        migrated = migrate.wait()
        services.processes.pop("matcher-migrate", None)
        if migrated != 0:
            raise flow.FlowError("matcher migrate failed; see "
                                 f"{services.log('matcher-migrate')}")
        services.start("matcher", ["matcher", "serve", "--config", str(matcher_cfg)])
        ps_port = services.wait_port("pseudonymiser")
        matcher = f"127.0.0.1:{services.wait_port('matcher')}"
        gateway_cfgs = {
            kind: deployment.write_gateway_config(dep, kind, matcher=matcher,
                                                  pseudonymiser=f"127.0.0.1:{ps_port}")
            for kind in sorted(dep.gateways)}
        for kind, cfg in gateway_cfgs.items():
            services.start(f"gateway-{kind}", ["gateway", "serve", "--config", str(cfg)])
        # Every team gets its inbox configuration; the web inbox runs for the team most
        # policies address (one process: the others' alerts are read through the inbox's
        # library with their own keys, the same code the web app calls).
        team_cfgs: dict[str, Path] = {}
        port = free_port()
        for team in sorted({p.team_id for p in prepared}):
            team_cfgs[team] = deployment.write_inbox_config(dep, team, matcher=matcher,
                                                            bind=f"127.0.0.1:{port}")
        web_team = Counter(p.team_id for p in prepared).most_common(1)[0][0]
        inbox_url = f"http://127.0.0.1:{port}"
        services.start(f"inbox-{web_team}", ["inbox", "serve", "--config",
                                             str(team_cfgs[web_team])])
        for kind in gateway_cfgs:
            services.wait_event(f"gateway-{kind}", "gateway_serving")
        services.wait_url(f"inbox-{web_team}", f"{inbox_url}/login")
    with stages.stage(f"{len(prepared)} policies signed by 2 officers (+ reviewer if "
                      "standing), published"):
        policies.sign_all(dep, prepared, logs / "policy.log")
        policies.publish_all(dep, prepared, matcher, logs / "policy.log")
    with stages.stage("exports ingested: links, then signals, then withdrawals"), \
            stages.bar("ingest", len(data.exports)) as advance:
        files = flow.ingest(data.exports, gateway_cfgs, work, data.as_of,
                            on_file=lambda _e: advance(1))
    rows = flow.read_inquiries(data.inquiries, _reason_codes()) if data.inquiries else []
    with stages.stage(f"{len(rows)} inquiries sent"), \
            stages.bar("inquiries", len(rows)) as advance:
        answers = flow.send_inquiries(rows, gateway_cfgs, data.as_of, tick=lambda: advance(1))
    database = checks.matcher_sqlite(dep)
    with stages.stage("reveal requests answered by the gateways"):
        pending = flow.wait_for_disclosures(database, DISCLOSURE_TIMEOUT)
    with stages.stage("disclosures verified and opened with the teams' keys"):
        alerts = flow.open_alerts(team_cfgs)
    with stages.stage("audit log verified (samenloop audit verify, with the gateways' "
                      "cosignatures)"):
        audit = audit_check.verify(dep.directory, database, WITNESSES, AUDIT_TIMEOUT)
    with stages.stage("scorecard: truth, and the scan for identities"):
        scores = None
        if data.truth is not None:
            scores = checks.score(data.truth, checks.alerted_households(database),
                                  checks.Pseudonymiser(dep))
        crashed = services.check_running()
        log_files = sorted(logs.glob("*.log"))
        findings = (checks.scan(log_files, data.identities)
                    + checks.scan_database(database, data.identities))
        scanned = [*log_files, database]
    result = Result(work, files, alerts, answers, scores, findings, len(scanned),
                    matcher_database=database, audit=audit)
    result.checks = _verdicts(result, data, pending, crashed)
    if serve:
        password = secrets.token_urlsafe(DEMO_PASSWORD_BYTES)
        added = run_cli(["inbox", "user", "add", flow.DEMO_USER, "--config",
                         str(team_cfgs[web_team])], logs / "inbox-user.log",
                        stdin=password + "\n")
        if added.returncode != 0:
            raise flow.FlowError(f"inbox user add failed; see {logs / 'inbox-user.log'}")
        result.inbox_url, result.login = inbox_url, (flow.DEMO_USER, password)
    result.times = list(stages.times)
    return result


def _reason_codes() -> list[str]:
    from domain.codes import load_codes

    return list(load_codes().inquiry_reason.codes)


def _verdicts(result: Result, data: DemoData, pending: int, crashed: list[str]
              ) -> list[tuple[str, bool, str]]:
    out: list[tuple[str, bool, str]] = []
    out.append(("services ran to the end", not crashed,
                "all" if not crashed else "exited: " + ", ".join(crashed)))
    out.append(("every reveal request answered", pending == 0,
                f"{pending} disclosures still pending" if pending else "none pending"))
    unverified = sum(1 for a in result.alerts for d in a.disclosures if not d.verified
                     and d.status != "refused")
    refused = sum(1 for a in result.alerts for d in a.disclosures if d.status == "refused")
    out.append(("every disclosure verified and opened", unverified == 0 and refused == 0,
                f"{unverified} unverified, {refused} refused"))
    if data.expected_rows is not None:
        wrong = [r.export.label for r in result.files
                 if data.expected_rows.get(r.export.label) not in (None, (r.read, r.accepted,
                                                                         r.rejected))]
        out.append(("rows read/accepted/rejected as truth.json says", not wrong,
                    "match" if not wrong else "differ for " + ", ".join(wrong)))
    if data.expected_answers is not None:
        got = [a["answer"] for a in result.inquiries]
        out.append(("inquiry answers as truth.json says", got == data.expected_answers,
                    f"{sum(x == y for x, y in zip(got, data.expected_answers, strict=False))} of "
                    f"{len(data.expected_answers)} match"))
    if result.scores is not None:
        perfect = all(s.precision == 1.0 and s.recall == 1.0 for s in result.scores.values())
        out.append(("precision = recall = 1.0 for every policy", perfect,
                    "yes" if perfect else "no (see the table)"))
    if result.audit is not None:
        out.append(("audit log verifies", result.audit.ok, result.audit.summary))
    out.append(("no identity in the matcher database or any log", not result.findings,
                f"{result.scanned} files scanned, " + (
                    "none found" if not result.findings else
                    "found: " + ", ".join(f"{f.what} in {f.file.name}" for f in result.findings))))
    return out


def today() -> date:
    return date.today()
