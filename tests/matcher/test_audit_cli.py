"""`samenloop audit show` and `samenloop audit export`, over the API and from the database.

The commands run in process (Typer's runner) against a real matcher on loopback over mTLS, with
the officers' certificates of the test PKI. What they print is compared with what the
AuditService returns; an export's lines must be the entries' leaves byte for byte, and the
export from the database must equal the export over the API.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from typer.testing import CliRunner

from samenloop.cli.main import app
from samenloop.v1 import audit_pb2
from tests.matcher.conftest import PARTNER_OFFICER, Harness
from tests.matcher.helpers import HOUSING, POLICE
from tests.matcher.test_policy_audit import all_entries


def run(h: Harness, *args: str, officer: str | None = None) -> tuple[int, str, str]:
    """`samenloop audit ARGS` as the controller's officer (or `officer`) against `h`."""
    remote = ["--matcher", h.target, "--tls-dir", str(h.pki.dir)]
    if officer:
        remote += ["--tls-name", officer]
    result = CliRunner().invoke(app, ["audit", *args, *remote])
    return result.exit_code, result.stdout, result.stderr


def words(text: str) -> str:
    """Text without the frame and line breaks of the usage-error box."""
    return " ".join(text.replace("│", " ").split())


def a_small_case(h: Harness) -> None:
    h.publish_policy(id="cli")
    housing, police = h.gateway(HOUSING), h.gateway(POLICE)
    housing.submit(housing.signal("h-1", "huurachterstand", household="3071AB 1"))
    police.submit(police.signal("p-1", "politie_herhaalde_inzet_adres", household="3071AB 1",
                                person="111222333"))
    police.inquire("cli", "3071AB 1")


def test_show_filters_and_prints_a_table_or_json(matcher: Harness) -> None:
    a_small_case(matcher)
    code, out, err = run(matcher, "show", "--type", "signal_received", "--json")
    assert code == 0, err
    shown = json.loads(out)
    assert sorted((e["record"]["attributes"]["samenloop.actor.organisation"],
                   e["record"]["attributes"]["dpl.core.data_subject_id_type"]) for e in shown) \
        == [(POLICE, "household_pseudonym"), (POLICE, "person_pseudonym"),
            (HOUSING, "household_pseudonym")]
    assert {e["record"]["name"] for e in shown} == {"signal_received"}

    code, out, err = run(matcher, "show", "--policy", "cli")
    assert code == 0, err
    header, *rows = out.splitlines()
    assert header.split() == ["index", "time", "event", "status", "actor", "subject", "policy",
                              "details"]
    assert sorted({r.split()[2] for r in rows}) == [
        "alert_created", "inquiry_received", "policy_published", "reveal_request_created"]
    assert all(r.split()[6] == "cli@1" for r in rows)

    # --since and --limit.
    later = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d")
    code, out, _ = run(matcher, "show", "--since", later)
    assert (code, out.splitlines()[1:]) == (0, [])
    code, out, err = run(matcher, "show", "--limit", "2")
    assert len(out.splitlines()) == 3 and "the first 2" in err

    # Filters are codes and ids: free text would end up in the listing's own entry.
    with pytest.raises(grpc.RpcError) as refused:
        matcher.auditor().ListAuditEntries(audit_pb2.ListAuditEntriesRequest(
            name="bekeken door Jan de Vries"), timeout=10)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "Vries" not in (refused.value.details() or "")
    with pytest.raises(grpc.RpcError) as refused:
        matcher.auditor().ListAuditEntries(audit_pb2.ListAuditEntriesRequest(
            policy_id="wams of Jan"), timeout=10)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert not any("Jan" in e.leaf.decode() for e in all_entries(matcher.auditor()))

    # Mistakes are one line each, with the fix.
    code, _, err = run(matcher, "show", "--type", "alert_veiwed")
    assert code == 2 and "did you mean alert_viewed" in words(err)
    code, _, err = run(matcher, "show", "--since", "last week")
    assert code == 2 and "a span such as 24h or 7d" in words(err)
    result = CliRunner().invoke(app, ["audit", "show", "--matcher", "127.0.0.1:1",
                                      "--tls-dir", str(matcher.pki.dir)])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: cannot reach 127.0.0.1:1")
    assert len(result.stderr.strip().splitlines()) == 1


def test_export_writes_the_leaves_and_the_database_export_agrees(
    matcher: Harness, db_url: str, tmp_path: Path,
) -> None:
    a_small_case(matcher)
    before = all_entries(matcher.auditor())  # itself logged: the export below includes it
    api, database = tmp_path / "api.jsonl", tmp_path / "db.jsonl"
    code, _, err = run(matcher, "export", "--out", str(api))
    assert code == 0, err
    lines = api.read_bytes().splitlines()
    assert lines == [e.leaf for e in before] + lines[len(before):]
    assert len(lines) == len(before) + 1  # the listing `all_entries` made
    assert f"exported {len(lines)} entries" in err
    for line in lines:
        record = json.loads(line)
        assert set(record) <= {"trace_id", "span_id", "parent_span_id", "name", "start_time",
                               "end_time", "status", "attributes"}
        assert "dpl.core.processing_activity_id" in record["attributes"]

    # Straight from the database: the same lines, and then the export's own listing entry.
    result = CliRunner().invoke(app, ["audit", "export", "--database-url", db_url,
                                      "--out", str(database)])
    assert result.exit_code == 0, result.stderr
    from_db = database.read_bytes().splitlines()
    assert from_db[:len(lines)] == lines
    assert [json.loads(x)["name"] for x in from_db[len(lines):]] == ["audit_entries_listed"]

    # A partner's officer exports only its own organisation's entries.
    partner = tmp_path / "partner.jsonl"
    code, _, err = run(matcher, "export", "--out", str(partner), officer=PARTNER_OFFICER)
    assert code == 0, err
    actors = {json.loads(x)["attributes"]["samenloop.actor.organisation"]
              for x in partner.read_bytes().splitlines()}
    assert actors == {HOUSING}
