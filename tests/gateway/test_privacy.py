"""No identity value from an export appears in any gateway log line, report, or in clear in the
gateway's database files (the vault holds ciphertexts, the journal pseudonyms)."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from pathlib import Path

from services.common.logging import configure_logging
from services.partner_gateway.disclosure import Discloser
from services.partner_gateway.runtime import Gateway
from services.partner_gateway.server import serve_once
from services.partner_gateway.settings import load_settings
from tests.gateway.conftest import Deployment, MatcherProcess, gateway_config, run_cli
from tests.gateway.test_disclosure import publish

IDENTITY_COLUMNS = ("bsn", "postcode", "geslachtsnaam", "voorletters", "geboortedatum",
                    "telefoon", "email", "contactpersoon")


def _export(path: Path) -> list[str]:
    day = (date.today() - timedelta(days=2)).isoformat()
    rows = [
        ["h-1", "huurachterstand", day, "wgs-vroegsignalering", "999990007", "3072 ab", "14",
         "Vermeulen-Oosterhout", "J.P.", "1981-03-14", "0612345678", "jp.vermeulen@example.nl",
         "Wilhelmina Brouwersgracht"],
        ["h-2", "ontruiming_aangezegd", day, "wgs-vroegsignalering", "999990007", "3072AB", "14",
         "Vermeulen-Oosterhout", "J.P.", "1981-03-14", "0612345678", "jp.vermeulen@example.nl",
         "Wilhelmina Brouwersgracht"],
        ["h-3", "huurachterstand", day, "wgs-vroegsignalering", "1234.56.782", "3073 EF", "233",
         "Zoutendijk", "A.", "1990-11-02", "+31101234567", "a.zoutendijk@example.org", ""],
    ]
    header = ["signal_id", "signal_type", "observed_on", "purpose", "bsn", "postcode",
              "huisnummer", "geslachtsnaam", "voorletters", "geboortedatum", "telefoon", "email",
              "contactpersoon"]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    values = set()
    for row in rows:
        for name, value in zip(header, row, strict=True):
            if name in IDENTITY_COLUMNS and value:
                values.add(value)
    # the normalised forms too (what the vault holds)
    values |= {"3072AB", "3073EF", "123456782", "+31612345678", "1981-03-14", "1990-11-02"}
    return sorted(values)


def test_no_identity_value_in_logs_reports_or_the_database(
        deployment: Deployment, matcher: MatcherProcess, tmp_path: Path) -> None:
    publish(deployment, matcher)
    export = tmp_path / "export.csv"
    secrets = _export(export)
    config = gateway_config(deployment, tmp_path / "gw", "housing", matcher.target,
                            mapping=None, log_level="DEBUG", four_eyes=False)
    report = tmp_path / "report.jsonl"
    ingest = run_cli("gateway", "ingest", str(export), "--config", str(config), "--report",
                     str(report))
    assert ingest.returncode == 0, ingest.stdout + ingest.stderr
    captured = [ingest.stdout, ingest.stderr, report.read_text()]

    stream = io.StringIO()
    configure_logging("gateway", level="DEBUG", stream=stream)
    gw = Gateway(load_settings(config))
    try:
        answered = serve_once(Discloser(gw), 5)
    finally:
        gw.close()
    assert answered == 2  # the household of h-1 and h-2 met the policy; both were disclosed
    captured.append(stream.getvalue())
    assert "disclosure_sealed" in stream.getvalue()
    for cmd in (["approvals", "list"], ["purge"]):
        done = run_cli("gateway", *cmd, "--config", str(config))
        assert done.returncode == 0, done.stderr
        captured += [done.stdout, done.stderr]

    text = "\n".join(captured)
    leaked = [v for v in secrets if v in text]
    assert leaked == [], f"identity values in gateway output: {leaked}"

    data_dir = tmp_path / "gw" / "data"
    blob = b"".join(p.read_bytes() for p in data_dir.iterdir() if p.is_file())
    assert blob, "the gateway database must exist"
    in_db = [v for v in secrets if v.encode() in blob]
    assert in_db == [], f"identity values in clear in the gateway database: {in_db}"
