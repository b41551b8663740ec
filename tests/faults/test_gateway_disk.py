"""The gateway's data directory (journal and identity vault) full, or read-only.

Tests run as root here, and root ignores file modes, so both are made with real mounts in a
private mount namespace of the gateway process only (`unshare --mount`): a tmpfs of a few
hundred KiB for a full disk (the writes fail with ENOSPC, as on a full volume), a read-only
bind mount of the folder for read-only. Nothing outside that one process sees either mount.
Where mount namespaces are not allowed the tests skip and say so.

What must hold: one clear line on stderr that names the database and says what to do, no
traceback, exit status 2, and no partial submission — every signal the matcher holds has its
identity in the vault and its row in the journal (the batch that could not be written was not
sent), and a rerun once there is room sends the rest exactly once.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path

import pytest

from tests.faults.conftest import (
    HOUSING,
    GatewayRun,
    MatcherService,
    Scenario,
    assert_exactly_once,
    error_lines,
    housing_gateway,
    journal_rows,
    municipality_gateway,
    report_outcomes,
    stored_signals,
    vault_ids,
)
from tests.gateway.conftest import Deployment, run_cli, summary_counts

pytestmark = [pytest.mark.slow]

FULL_DISK = """
set -e
data="$1"; keep="$2"; size="$3"; shift 3
mount -t tmpfs -o "size=$size,mode=0755" samenloop-test-full "$data"
set +e
"$@"
code=$?
cp -a "$data/." "$keep/"
exit $code
"""

READ_ONLY = """
set -e
data="$1"; shift
mount --bind "$data" "$data"
mount -o remount,bind,ro "$data"
exec "$@"
"""


@cache
def _private_mounts_refused() -> str | None:
    """Why a private mount namespace with a tmpfs cannot be made here, or None if it can."""
    if shutil.which("unshare") is None:
        return "the unshare command (util-linux) is not installed"
    probe = Path(tempfile.mkdtemp(prefix="samenloop-mount-probe-"))
    try:
        done = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c",
             'mount -t tmpfs -o size=64k samenloop-probe "$1" && touch "$1/x"', "sh",
             str(probe)], capture_output=True, text=True, timeout=30)
    finally:
        shutil.rmtree(probe, ignore_errors=True)
    if done.returncode != 0:
        return ("this machine does not allow a private mount namespace with a tmpfs "
                f"(unshare --mount: {done.stderr.strip() or done.returncode}); the full-disk "
                "and read-only tests need one (root with CAP_SYS_ADMIN, or user namespaces)")
    return None


@pytest.fixture
def private_mounts() -> None:
    reason = _private_mounts_refused()
    if reason is not None:
        pytest.skip(reason)


def unshared(script: str, *args: str) -> list[str]:
    """A command prefix that runs `script` (then the gateway) in its own mount namespace."""
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *args]


def test_a_full_disk_stops_the_gateway_with_one_line_and_nothing_half_sent(
        deployment: Deployment, matcher_service: MatcherService, private_mounts: None,
        tmp_path: Path) -> None:
    matcher = matcher_service
    scenario = Scenario(households=1000, postcode="3074GH")
    housing_csv, municipality_csv = scenario.write(tmp_path / "exports")
    first = run_cli("gateway", "ingest", str(municipality_csv), "--config",
                    str(municipality_gateway(deployment, tmp_path / "gm", matcher.target)))
    assert first.returncode == 0, first.stdout + first.stderr

    config = housing_gateway(deployment, tmp_path / "wr", matcher.target)
    data, kept = tmp_path / "wr" / "data", tmp_path / "kept"
    data.mkdir()
    kept.mkdir()
    # 640 KiB: room for the schema and a few batches, not for the whole file
    run = GatewayRun(config, housing_csv,
                     prefix=unshared(FULL_DISK, str(data), str(kept), "640k"))
    failed = run.wait()
    assert failed.returncode == 2, failed.stderr[-3000:]
    assert "Traceback" not in failed.stderr
    [line] = error_lines(failed.stderr)
    assert line.startswith(f"error: the gateway database {data / 'gateway.sqlite'} cannot be "
                           "used (database or disk is full); the disk is full"), line
    assert "run the same command again" in line

    # What the gateway had written when the disk filled (copied out of its namespace).
    db = kept / "gateway.sqlite"
    journal = journal_rows(db)
    at_matcher = {s for (p, s), _ in stored_signals(matcher.url).items() if p == HOUSING}
    assert 0 < len(at_matcher) < scenario.households, "the disk must fill mid-file"
    assert at_matcher <= vault_ids(db), "a signal was sent without its identity in the vault"
    assert len(at_matcher) <= journal["done"] + journal["prepared"]

    # Room again (the data moved to a roomy disk): the rerun sends the rest, once.
    shutil.rmtree(data)
    shutil.copytree(kept, data)
    report = tmp_path / "report.jsonl"
    finished = GatewayRun(config, housing_csv, report=report).wait()
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert summary_counts(finished.stdout)["accepted"] == scenario.households
    assert report_outcomes(report) == {"accepted": scenario.households}
    assert_exactly_once(matcher.url, scenario)


def test_a_read_only_data_directory_is_said_in_one_line_and_nothing_is_sent(
        deployment: Deployment, matcher_service: MatcherService, private_mounts: None,
        tmp_path: Path) -> None:
    matcher = matcher_service
    scenario = Scenario(households=200, postcode="3075JK", extra=0)
    housing_csv, _ = scenario.write(tmp_path / "exports")
    config = housing_gateway(deployment, tmp_path / "wr", matcher.target)
    data = tmp_path / "wr" / "data"

    # A data directory that was never used, and one holding the database of an earlier run.
    data.mkdir()
    for state in ("empty", "in use"):
        run = GatewayRun(config, housing_csv, prefix=unshared(READ_ONLY, str(data)))
        failed = run.wait()
        assert failed.returncode == 2, (state, failed.stderr[-3000:])
        assert "Traceback" not in failed.stderr
        [line] = error_lines(failed.stderr)
        assert line.startswith(f"error: the gateway database {data / 'gateway.sqlite'} cannot "
                               "be used ("), (state, line)
        assert f"data_dir {data} is not writable" in line, (state, line)
        assert not [s for (p, s) in stored_signals(matcher.url) if p == HOUSING], state
        if state == "empty":
            earlier = tmp_path / "earlier.csv"
            earlier.write_text(housing_csv.read_text().splitlines()[0] + "\n")  # header only
            done = run_cli("gateway", "ingest", str(earlier), "--config", str(config))
            assert done.returncode == 0, done.stdout + done.stderr
            assert (data / "gateway.sqlite").exists()
