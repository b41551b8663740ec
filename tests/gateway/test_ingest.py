"""`samenloop gateway ingest` against real pseudonymiser and matcher processes over mTLS."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.gateway.conftest import (
    EXAMPLES,
    ORGS,
    ROOT,
    Deployment,
    MatcherProcess,
    gateway_config,
    run_cli,
    summary_counts,
)
from tests.matcher.helpers import bsn

# Expected per example export: the signal ids written down from the files themselves.
EXAMPLE_EXPORTS = {
    "housing": (EXAMPLES / "woonstichting" / "export.csv",
                ["DH-26-00871", "DH-26-00872", "DH-26-00901", "DH-26-00915", "DH-26-00920"]),
    "police": (EXAMPLES / "politie" / "export.jsonl",
               ["PL1700-2026-118223", "PL1700-2026-118301", "PL1700-2026-118302",
                "PL1700-2026-118410"]),
    "mental_health": (EXAMPLES / "ggz" / "export.csv",
                      ["GD-2026-0091", "GD-2026-0095", "GD-2026-0102"]),
    "municipality": (EXAMPLES / "gemeente" / "signals.csv",
                     ["Z-2026-55102", "Z-2026-55230", "Z-2026-55231", "Z-2026-55310",
                      "Z-2026-55402", "Z-2026-55410"]),
}


@pytest.mark.parametrize("kind", sorted(ORGS))
def test_each_partner_kinds_example_export_arrives_at_the_matcher(
        kind: str, deployment: Deployment, shared_matcher: MatcherProcess, tmp_path: Path
) -> None:
    matcher = shared_matcher
    config = gateway_config(deployment, tmp_path / kind, kind, matcher.target)
    path, _ = EXAMPLE_EXPORTS[kind]
    report = tmp_path / "report.jsonl"
    done = run_cli("gateway", "ingest", str(path), "--config", str(config), "--report",
                   str(report))
    assert done.returncode == 0, done.stdout + done.stderr
    expected = sorted(EXAMPLE_EXPORTS[kind][1])
    assert sorted(matcher.signal_ids(ORGS[kind])) == expected
    rows = [json.loads(line) for line in report.read_text().splitlines()]
    assert sorted(r["id"] for r in rows) == expected
    assert {r["outcome"] for r in rows} <= {"accepted", "refreshed"}
    # every signal's identity is in the vault, encrypted
    engine = sa.create_engine(f"sqlite:///{tmp_path / kind / 'data' / 'gateway.sqlite'}")
    with engine.connect() as conn:
        vault_ids = sorted(conn.execute(sa.text("SELECT signal_id FROM vault")).scalars())
    engine.dispose()
    assert vault_ids == expected


def test_municipality_links_and_withdrawals(deployment: Deployment, matcher: MatcherProcess,
                                            tmp_path: Path) -> None:
    config = gateway_config(deployment, tmp_path / "gm", "municipality", matcher.target)
    links = EXAMPLES / "gemeente" / "links.csv"
    done = run_cli("gateway", "ingest", str(links), "--config", str(config))
    assert done.returncode == 0, done.stdout + done.stderr
    engine = matcher.engine()
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT count(*) FROM household_links")).scalar_one()
    assert stored == 5  # the five rows of examples/partners/gemeente/links.csv
    # the same links again: the gateway names them by content, so nothing is stored twice
    again = tmp_path / "links-again.csv"
    again.write_text(links.read_text() + "\n")
    done = run_cli("gateway", "ingest", str(again), "--config", str(config), "--kind", "links")
    assert done.returncode == 0, done.stdout + done.stderr
    assert summary_counts(done.stdout) == {"read": 5, "accepted": 0, "refreshed": 0,
                                           "duplicate": 5, "rejected": 0}
    signals = EXAMPLES / "gemeente" / "signals.csv"
    assert run_cli("gateway", "ingest", str(signals), "--config", str(config)).returncode == 0
    withdrawals = EXAMPLES / "gemeente" / "withdrawals.csv"
    done = run_cli("gateway", "ingest", str(withdrawals), "--config", str(config))
    assert done.returncode == 0, done.stdout + done.stderr
    with engine.connect() as conn:
        withdrawn = sorted(conn.execute(sa.text(
            "SELECT signal_id FROM signals WHERE withdrawn_at IS NOT NULL")).scalars())
    engine.dispose()
    assert withdrawn == ["Z-2026-55230", "Z-2026-55402"]
    gw = sa.create_engine(f"sqlite:///{tmp_path / 'gm' / 'data' / 'gateway.sqlite'}")
    with gw.connect() as conn:
        left = set(conn.execute(sa.text("SELECT signal_id FROM vault")).scalars())
    gw.dispose()
    assert "Z-2026-55230" not in left and "Z-2026-55402" not in left


def test_rejected_rows_are_reported_with_file_and_line_and_the_rest_goes_through(
        deployment: Deployment, matcher: MatcherProcess, tmp_path: Path) -> None:
    export = tmp_path / "export.csv"
    export.write_text(
        "signal_id,signal_type,observed_on,purpose,bsn,postcode,huisnummer\n"
        f"ok-1,huurachterstand,2026-11-02,wgs-vroegsignalering,{bsn(1)},3071AB,1\n"
        "bad-bsn,huurachterstand,2026-11-02,wgs-vroegsignalering,123456789,3071AB,2\n"
        f"ok-2,huurachterstand,2026-11-03,wgs-vroegsignalering,{bsn(3)},3071AB,3\n"
        "bad-type,huurschuld,2026-11-03,wgs-vroegsignalering,,3071AB,4\n"
        f"ok-3,woonoverlast_melding,2026-11-04,wams-gecoordineerde-aanpak,,3071AB,5\n"
    )
    config = gateway_config(deployment, tmp_path / "gw", "housing", matcher.target, mapping=None)
    report = tmp_path / "report.jsonl"
    done = run_cli("gateway", "ingest", str(export), "--config", str(config), "--report",
                   str(report), "--as-of", "2026-11-30")
    assert done.returncode == 1, done.stdout + done.stderr
    assert sorted(matcher.signal_ids("woonstad-rotterdam")) == ["ok-1", "ok-2", "ok-3"]
    rows = {r["line"]: r for r in map(json.loads, report.read_text().splitlines())}
    assert rows[3]["outcome"] == "rejected" and rows[3]["reason_code"] == "bsn.elfproef"
    assert rows[5]["outcome"] == "rejected" and rows[5]["reason_code"] == "signal_type.unknown"
    assert all(r["file"] == str(export) for r in rows.values())
    assert [rows[n]["outcome"] for n in (2, 4, 6)] == ["accepted"] * 3
    assert summary_counts(done.stdout)["rejected"] == 2 and "bsn.elfproef" in done.stdout
    assert "123456789" not in report.read_text()


def _big_export(path: Path, rows: int) -> None:
    lines = ["signal_id,signal_type,observed_on,purpose,bsn,postcode,huisnummer"]
    for n in range(rows):
        lines.append(f"sig-{n:05d},huurachterstand,2026-11-02,wgs-vroegsignalering,"
                     f"{bsn(n + 100)},3071AB,{n + 1}")
    path.write_text("\n".join(lines) + "\n")


def _done_rows(db: Path) -> int:
    if not db.exists():
        return 0
    engine = sa.create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(
                "SELECT count(*) FROM journal WHERE state = 'done'")).scalar_one())
    except sa.exc.OperationalError:
        return 0
    finally:
        engine.dispose()


def test_killed_mid_file_and_rerun_loses_and_duplicates_nothing(
        deployment: Deployment, matcher: MatcherProcess, tmp_path: Path) -> None:
    rows = 3000
    export = tmp_path / "big.csv"
    _big_export(export, rows)
    config = gateway_config(deployment, tmp_path / "gw", "housing", matcher.target,
                            mapping=None, batch_size=100)
    db = tmp_path / "gw" / "data" / "gateway.sqlite"
    process = subprocess.Popen(
        [sys.executable, "-m", "samenloop.cli.main", "gateway", "ingest", str(export),
         "--config", str(config), "--as-of", "2026-11-30"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while _done_rows(db) < 500 and process.poll() is None:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    partial = matcher.count_signals("woonstad-rotterdam")
    assert 0 < partial < rows, "the kill must land mid-file for this test to mean anything"

    report = tmp_path / "report.jsonl"
    done = run_cli("gateway", "ingest", str(export), "--config", str(config), "--report",
                   str(report), "--as-of", "2026-11-30")
    assert done.returncode == 0, done.stdout + done.stderr
    ids = matcher.signal_ids("woonstad-rotterdam")
    assert len(ids) == rows and len(set(ids)) == rows
    assert sorted(ids) == [f"sig-{n:05d}" for n in range(rows)]
    outcomes = [json.loads(line)["outcome"] for line in report.read_text().splitlines()]
    assert len(outcomes) == rows and set(outcomes) == {"accepted"}
    assert summary_counts(done.stdout)["accepted"] == rows
    # a third run sends nothing new and says the same
    again = run_cli("gateway", "ingest", str(export), "--config", str(config), "--as-of",
                    "2026-11-30")
    assert again.returncode == 0 and summary_counts(again.stdout)["accepted"] == rows
    assert f"(of which {rows} recorded by an earlier run)" in again.stdout


def test_unreachable_matcher_is_said_in_one_line_and_the_journal_is_kept(
        deployment: Deployment, tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    export = tmp_path / "few.csv"
    _big_export(export, 5)
    config = gateway_config(deployment, tmp_path / "gw", "housing", f"127.0.0.1:{free}",
                            mapping=None)
    done = run_cli("gateway", "ingest", str(export), "--config", str(config), "--as-of",
                   "2026-11-30", env={"SAMENLOOP_GATEWAY__RETRY__ATTEMPTS": "2"})
    assert done.returncode == 2
    err = done.stderr.strip().splitlines()[-1]
    assert err.startswith(f"error: the matcher at 127.0.0.1:{free} is unreachable")
    assert "Traceback" not in done.stderr
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'gw' / 'data' / 'gateway.sqlite'}")
    with engine.connect() as conn:
        prepared = conn.execute(sa.text(
            "SELECT count(*) FROM journal WHERE state = 'prepared'")).scalar_one()
    engine.dispose()
    assert prepared == 5


def test_a_refused_certificate_is_said_as_such(deployment: Deployment, matcher: MatcherProcess,
                                               tmp_path: Path) -> None:
    from crypto.pki import create_ca, issue_certificate, save_certified_key

    rogue = issue_certificate(create_ca("rogue CA"), organisation="woonstad-rotterdam",
                              role="gateway", common_name="gateway-woonstad-rotterdam")
    save_certified_key(rogue, tmp_path / "rogue.crt", tmp_path / "rogue.key")
    export = tmp_path / "few.csv"
    _big_export(export, 3)
    config = gateway_config(
        deployment, tmp_path / "gw", "housing", matcher.target, mapping=None,
        tls={"ca": str(deployment.pki.directory / "ca" / "ca.crt"),
             "cert": str(tmp_path / "rogue.crt"), "key": str(tmp_path / "rogue.key")})
    done = run_cli("gateway", "ingest", str(export), "--config", str(config), "--as-of",
                   "2026-11-30", env={"SAMENLOOP_GATEWAY__RETRY__ATTEMPTS": "2"})
    assert done.returncode == 2
    [line] = [x for x in done.stderr.splitlines() if x.startswith("error:")]
    assert "the pseudonymiser" in line and ("certificate" in line or "TLS" in line), line
    assert "Traceback" not in done.stderr


def test_an_unreachable_pseudonymiser_is_said_in_one_line(
        deployment: Deployment, matcher: MatcherProcess, tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    export = tmp_path / "few.csv"
    _big_export(export, 3)
    config = gateway_config(deployment, tmp_path / "gw", "housing", matcher.target,
                            mapping=None, pseudonymiser=f"127.0.0.1:{free}")
    done = run_cli("gateway", "ingest", str(export), "--config", str(config), "--as-of",
                   "2026-11-30", env={"SAMENLOOP_GATEWAY__RETRY__ATTEMPTS": "2"})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith(
        f"error: the pseudonymiser at 127.0.0.1:{free} is unreachable")
    assert matcher.count_signals("woonstad-rotterdam") == 0
