"""`samenloop gateway watch DIR`: every dropped file is ingested and moved aside with its report."""

from __future__ import annotations

import json
from pathlib import Path

from tests.gateway.conftest import Deployment, MatcherProcess, gateway_config, run_cli
from tests.matcher.helpers import bsn


def test_dropped_files_are_ingested_and_moved_aside_with_their_reports(
        deployment: Deployment, matcher: MatcherProcess, tmp_path: Path) -> None:
    inbox = tmp_path / "exports"
    inbox.mkdir()
    (inbox / "week-48.csv").write_text(
        "signal_id,signal_type,observed_on,purpose,bsn,postcode,huisnummer\n"
        f"w-1,huurachterstand,2026-11-20,wgs-vroegsignalering,{bsn(1)},3071AB,1\n"
        "w-2,huurachterstand,2026-11-20,wgs-vroegsignalering,,3071AB,\n")
    (inbox / "week-48-withdrawals.csv").write_text("signal_id,reason\nw-9,resolved\n")
    (inbox / "broken.csv").write_bytes(b"\xff\xfe" + "a,b\n".encode("utf-16-le"))
    (inbox / ".hidden.csv").write_text("ignored")
    config = gateway_config(deployment, tmp_path / "gw", "housing", matcher.target, mapping=None)
    done = run_cli("gateway", "watch", str(inbox), "--once", "--config", str(config))
    assert done.returncode == 1, done.stdout + done.stderr  # w-2 has no huisnummer
    assert sorted(p.name for p in inbox.iterdir()) == [".hidden.csv", "failed", "processed"]
    processed = sorted(p.name for p in (inbox / "processed").iterdir())
    assert len(processed) == 6
    [signals_report] = [p for p in processed if p.endswith("week-48.csv.report.jsonl")]
    rows = [json.loads(line) for line in
            (inbox / "processed" / signals_report).read_text().splitlines()]
    assert sorted((r["line"], r["outcome"]) for r in rows) == [(2, "accepted"), (3, "rejected")]
    [summary] = [p for p in processed if p.endswith("week-48.csv.summary.json")]
    counts = json.loads((inbox / "processed" / summary).read_text())
    assert (counts["read"], counts["accepted"], counts["rejected"]) == (2, 1, 1)
    failed = sorted(p.name for p in (inbox / "failed").iterdir())
    assert len(failed) == 2 and failed[1].endswith("broken.csv.error.txt")
    assert matcher.signal_ids("woonstad-rotterdam") == ["w-1"]
