"""`samenloop demo --input DIR --out FILE` on a hand-made directory with the tricky cases.

The expected alerts and inquiry answers are written out below, case by case, from the policy
rules (docs/policies.md): nothing is computed by the code under test. The run is real: every
service as its own process over mTLS, the policies signed and published, the gateways answering
reveal requests, the boxes opened with the teams' keys.
"""

from __future__ import annotations

import csv
import json
import os
import re
import sqlite3
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

LIBRARY = Path(__file__).resolve().parents[2] / "policies" / "library"
CAPTURE = Path(__file__).resolve().parent / "capture"  # sitecustomize: the matcher's interceptor
TODAY = date.today()
WAMS = "wams-gecoordineerde-aanpak"
WGS = "wgs-vroegsignalering"


def ago(days: int) -> str:
    return (TODAY - timedelta(days=days)).isoformat()


def elfproef_bsn(prefix: str) -> str:
    """An elfproef-valid BSN with these first 8 digits (chosen so the check digit exists)."""
    total = sum(int(d) * w for d, w in zip(prefix, range(9, 1, -1), strict=True))
    check = total % 11
    assert check < 10, prefix
    return prefix + str(check)


P1 = elfproef_bsn("11122233")   # lives at H1
P2 = elfproef_bsn("22233344")   # moved from H2A to H2B 20 days ago
INVALID_BSN = "123456789"       # fails the elfproef
H1 = ("3072AB", "14")
H2A, H2B = ("3072AC", "1"), ("3072AD", "2")
H3, H4, H5 = ("3072AE", "3"), ("3072AF", "4"), ("3072AG", "5")
H7, H8, H9 = ("3072AH", "7"), ("3072AJ", "8"), ("3072AK", "9")

SIGNAL_COLUMNS = ["signal_id", "signal_type", "observed_on", "purpose", "bsn", "postcode",
                  "huisnummer", "huisletter", "huisnummertoevoeging", "geslachtsnaam",
                  "voorletters", "geboortedatum", "contactpersoon"]


def signal(sid: str, stype: str, days: int, purpose: str = WAMS, *, bsn: str = "",
           address: tuple[str, str] = ("", ""), **extra: str) -> dict[str, str]:
    return {"signal_id": sid, "signal_type": stype, "observed_on": ago(days), "purpose": purpose,
            "bsn": bsn, "postcode": address[0], "huisnummer": address[1], **extra}


# The same household H1 in three formats: housing writes "3072 ab", police "3072AB", and the
# GGZ names the person P1, whom the BRP links to H1.
HOUSING = [
    signal("W-1", "huurachterstand", 10, address=("3072 ab", "14"), geslachtsnaam="Jansen",
           voorletters="J.P.", bsn=P1),
    signal("W-2B", "huurachterstand", 5, address=H2B),
    signal("W-3", "huurachterstand", 10, address=H3),
    signal("W-4", "huurachterstand", 10, address=H4),
    signal("W-5", "huurachterstand", 10, WGS, address=H5),    # a purpose policy A does not see
    signal("W-8", "huurachterstand", 10, address=H8),
    signal("W-9", "huurachterstand", 10, WGS, address=H9),
]
POLICE = [
    signal("P-1", "politie_herhaalde_inzet_adres", 8, address=H1, contactpersoon="K. Visser"),
    signal("P-2", "verward_gedrag_e33", 40, bsn=P2),           # before the move: lands on H2A
    signal("P-3", "politie_herhaalde_inzet_adres", 9, address=H3),   # withdrawn below
    signal("P-4", "politie_herhaalde_inzet_adres", 90, address=H4),  # outside the 60-day window
    signal("P-5", "politie_herhaalde_inzet_adres", 9, address=H5),
    signal("P-8", "politie_herhaalde_inzet_adres", 9, address=H8),
]
MENTAL_HEALTH = [
    signal("G-1", "ggz_crisiscontact", 6, bsn=P1[:4] + " " + P1[4:], contactpersoon="I. de Wit",
           geboortedatum="1984-05-17"),
    signal("G-2", "ggz_crisiscontact", 10, bsn=P2, contactpersoon="R. Smit",
           geboortedatum="1979-02-03"),                        # after the move: lands on H2B
    signal("G-6", "ggz_crisiscontact", 10, bsn=INVALID_BSN, geboortedatum="1990-12-01"),
]
MUNICIPALITY = [
    signal("M-9", "energie_achterstand", 12, WGS, address=H9),
]
LINKS = [
    {"bsn": P1, "postcode": H1[0], "huisnummer": H1[1], "valid_from": "2015-01-01"},
    {"bsn": P2, "postcode": H2A[0], "huisnummer": H2A[1], "valid_from": "2010-06-01"},
    {"bsn": P2, "postcode": H2B[0], "huisnummer": H2B[1], "valid_from": ago(20)},
]
WITHDRAWALS = [{"partner_kind": "police", "signal_id": "P-3", "reason": "retracted"}]
INQUIRIES = [  # (partner_kind, address, policy, reason) and the expected answer
    (("housing", H1, "test-wams", "multiple_problems_suspected"), "indicated"),
    (("municipality", H8, "test-wams", "multiple_problems_suspected"), "not_indicated"),
    (("housing", H2B, "test-wams", "eviction threatened"), "indicated"),
    (("police", H2A, "test-wams", "repeated_incidents"), "not_indicated"),
    (("housing", H3, "test-wams", "multiple_problems_suspected"), "not_indicated"),
    (("housing", H4, "test-wams", "multiple_problems_suspected"), "not_indicated"),
    (("police", H5, "test-wams", "repeated_incidents"), "not_indicated"),
    (("housing", H7, "test-wams", "multiple_problems_suspected"), "not_indicated"),
]
ADDRESS_FIELDS = ["postcode", "huisnummer", "huisletter", "huisnummertoevoeging"]

# What the teams must see: exactly these alerts (life domains are the catalogue's domains of
# the contributing types; disclosures only the fields each row holds that the policy allows).
EXPECTED_ALERTS = [
    {"policy_id": "test-wams",
     "life_domains": ["financien", "geestelijke_gezondheid", "huiselijke_relaties", "huisvesting",
                      "justitie"],
     "partner_kinds": ["housing", "mental_health", "police"],
     "disclosures": {
         ("housing", "W-1"): {"postcode": "3072AB", "huisnummer": "14",
                              "geslachtsnaam": "Jansen"},
         ("police", "P-1"): {"contactpersoon": "K. Visser"},
         ("mental_health", "G-1"): {"contactpersoon": "I. de Wit"}}},
    {"policy_id": "test-wams",
     "life_domains": ["financien", "geestelijke_gezondheid", "huisvesting"],
     "partner_kinds": ["housing", "mental_health"],
     "disclosures": {
         ("housing", "W-2B"): {"postcode": "3072AD", "huisnummer": "2"},
         ("mental_health", "G-2"): {"contactpersoon": "R. Smit"}}},
    {"policy_id": "test-wgs",
     "life_domains": ["financien", "huisvesting"],
     "partner_kinds": ["housing", "municipality"],
     "disclosures": {
         ("housing", "W-9"): {"postcode": "3072AK", "huisnummer": "9"},
         ("municipality", "M-9"): {"postcode": "3072AK", "huisnummer": "9"}}},
]


def _write_csv(path: Path, columns: list[str], rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in columns})


def _policies(folder: Path) -> None:
    folder.mkdir()
    wams = yaml.safe_load((LIBRARY / "wams-meervoudige-problematiek.yaml").read_text())
    wams.update(id="test-wams", trigger={"window_days": 60, "min_domains": 2, "min_signals": 2},
                disclosure={"housing": [*ADDRESS_FIELDS, "geslachtsnaam"],
                            "police": ["contactpersoon"], "mental_health": ["contactpersoon"],
                            "municipality": ["bsn", "geslachtsnaam", *ADDRESS_FIELDS]})
    wams["recipient"] = {"team_id": "wijkteam-test", "name": "Wijkteam Test",
                         "public_key": "SppXCCvtaoKW9WwMJJ+6rCSPuJY/F39fC3OIoOB8Jlw="}
    wgs = yaml.safe_load((LIBRARY / "wgs-vroegsignalering-wonen.yaml").read_text())
    wgs.update(id="test-wgs", trigger={"window_days": 60, "min_domains": 2, "min_signals": 2},
               disclosure={"housing": ADDRESS_FIELDS, "municipality": ADDRESS_FIELDS})
    wgs["independent_review"]["reviewer"] = "ir-test"
    wgs["recipient"] = {"team_id": "schuldhulp-test", "name": "Schuldhulp Test",
                        "public_key": "th9DYWehzvnyOYLdXUM0c8PkELuhTSSeheWwmX8phSc="}
    for doc in (wams, wgs):
        (folder / f"{doc['id']}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))


def make_input(folder: Path) -> Path:
    folder.mkdir()
    _write_csv(folder / "housing.csv", SIGNAL_COLUMNS, HOUSING)
    _write_csv(folder / "police.csv", SIGNAL_COLUMNS, POLICE)
    _write_csv(folder / "mental_health.csv", SIGNAL_COLUMNS, MENTAL_HEALTH)
    _write_csv(folder / "municipality.csv", SIGNAL_COLUMNS, MUNICIPALITY)
    _write_csv(folder / "brp_links.csv", ["bsn", "postcode", "huisnummer", "huisletter",
                                          "huisnummertoevoeging", "valid_from"], LINKS)
    _write_csv(folder / "withdrawals.csv", ["partner_kind", "signal_id", "reason"], WITHDRAWALS)
    columns = ["partner_kind", "bsn", "postcode", "huisnummer", "huisletter",
               "huisnummertoevoeging", "policy_id", "reason"]
    _write_csv(folder / "inquiries.csv", columns, [
        {"partner_kind": k, "postcode": a[0], "huisnummer": a[1], "policy_id": p, "reason": r}
        for (k, a, p, r), _ in INQUIRIES])
    _policies(folder / "policies")
    return folder


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("demo-input")
    source = make_input(base / "input")
    out, work, captured = base / "result.json", base / "work", base / "matcher-received.jsonl"
    path = os.pathsep.join(filter(None, [str(CAPTURE), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "SAMENLOOP_TEST_CAPTURE": str(captured), "PYTHONPATH": path}
    done = subprocess.run(
        [sys.executable, "-m", "samenloop.cli.main", "demo", "--input", str(source), "--out",
         str(out), "--workdir", str(work)], capture_output=True, text=True, timeout=600,
        check=False, env=env)
    return {"done": done, "out": out, "work": work, "captured": captured}


def _comparable(alert: dict[str, Any]) -> dict[str, Any]:
    return {"policy_id": alert["policy_id"], "life_domains": sorted(alert["life_domains"]),
            "partner_kinds": sorted(alert["partner_kinds"]),
            "disclosures": {(d["partner_kind"], d["signal_id"]): d["fields"]
                            for d in alert["disclosures"]}}


@pytest.mark.slow
def test_exact_alerts_rows_and_answers(demo_run: dict[str, Any]) -> None:
    done = demo_run["done"]
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(demo_run["out"].read_text())
    got = sorted((_comparable(a) for a in result["alerts"]),
                 key=lambda a: (a["policy_id"], sorted(a["disclosures"])))
    want = sorted(EXPECTED_ALERTS, key=lambda a: (a["policy_id"], sorted(a["disclosures"])))
    assert got == want
    assert all(d["verified"] for a in result["alerts"] for d in a["disclosures"])
    assert [q["answer"] for q in result["inquiries"]] == [answer for _, answer in INQUIRIES]
    assert result["rows"]["mental_health"] == {"read": 3, "accepted": 2, "rejected": 1}
    assert result["rows"]["housing"] == {"read": 7, "accepted": 7, "rejected": 0}
    assert result["rows"]["police"] == {"read": 7, "accepted": 7, "rejected": 0}  # + withdrawal
    # the officer's verifier ran over the matcher's database: every accepted row left at least
    # one entry, and every entry is in a signed checkpoint
    assert result["audit_verified"] is True
    accepted = sum(r["accepted"] for r in result["rows"].values())
    assert result["audit"]["entries"] >= accepted
    assert result["audit"]["checkpoints"] >= 1


def _identity_values() -> dict[str, set[str]]:
    rows = HOUSING + POLICE + MENTAL_HEALTH + MUNICIPALITY
    bsns = {P1, P2, INVALID_BSN}
    names = {r[k] for r in rows for k in ("geslachtsnaam", "contactpersoon") if r.get(k)}
    births = {r["geboortedatum"] for r in rows if r.get("geboortedatum")}
    postcodes = {h[0] for h in (H1, H2A, H2B, H3, H4, H5, H7, H8, H9)}
    return {"bsn": bsns, "name": names, "birth date": births, "postcode": postcodes}


def _found(text: str) -> list[str]:
    hits = []
    for kind, values in _identity_values().items():
        for value in values:
            if re.search(rf"(?<![\w]){re.escape(value)}(?![\w])", text):
                hits.append(f"{kind} {value}")
    return hits


@pytest.mark.slow
def test_no_identity_in_logs_or_matcher_database(demo_run: dict[str, Any]) -> None:
    work: Path = demo_run["work"]
    logs = sorted((work / "logs").glob("*.log"))
    assert {p.name for p in logs} >= {"matcher.log", "pseudonymiser.log", "gateway-housing.log",
                                      "demo.log"}
    for log in logs:
        assert _found(log.read_text(errors="replace")) == [], log.name
    database = work / "deploy" / "matcher-data" / "matcher.sqlite"
    with sqlite3.connect(database) as conn:
        dump = "\n".join(conn.iterdump())  # blobs as X'hex', text as it is stored
    assert "test-wams" in dump  # the dump is the real database
    assert _found(dump) == []


@pytest.mark.slow
def test_no_identity_in_any_message_the_matcher_received(demo_run: dict[str, Any]) -> None:
    lines = [json.loads(x) for x in demo_run["captured"].read_text().splitlines()]
    methods = {line["method"].rsplit("/", 1)[-1] for line in lines}
    # The capture is real: it saw the links, the signals, the withdrawal, the inquiries, the
    # disclosures and the policies.
    assert {"SubmitHouseholdLinks", "SubmitSignals", "WithdrawSignals", "CreateInquiry",
            "SubmitDisclosure", "PublishPolicy"} <= methods, methods
    for line in lines:
        assert _found("\n".join(line["texts"])) == [], line["method"]
