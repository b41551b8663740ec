"""The written city: reproducible to the byte, and read by the real gateway check exactly as
truth.json says (every valid row accepted, every invalid row rejected with its recorded code)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from domain.identifiers.bsn import elfproef
from samenloop.cli.main import app
from samenloop.synth import generate_city, write_city
from tests.synth.conftest import AS_OF

REPO = Path(__file__).resolve().parents[2]
SIGNAL_FILES = {
    "housing/export.csv": "examples/partners/woonstichting/mapping.yaml",
    "police/export.jsonl": "examples/partners/politie/mapping.yaml",
    "mental_health/export.xlsx": "examples/partners/ggz/mapping.yaml",
    "municipality/signals.csv": "examples/partners/gemeente/mapping.yaml",
}


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_same_seed_gives_byte_identical_output(tmp_path: Path) -> None:
    for name in ("a", "b"):
        write_city(generate_city(250, 42, AS_OF), tmp_path / name, invalid_share=0.05)
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert sorted(a) == sorted(b)
    assert len(a) >= 15  # every export, mapping copy, withdrawals, inquiries, manifest, truth
    assert [n for n in a if a[n] != b[n]] == []


def test_another_seed_gives_another_city(tmp_path: Path) -> None:
    write_city(generate_city(100, 1, AS_OF), tmp_path / "a")
    write_city(generate_city(100, 2, AS_OF), tmp_path / "b")
    links = "municipality/links.csv"
    assert (tmp_path / "a" / links).read_bytes() != (tmp_path / "b" / links).read_bytes()


def _check(file: Path, *args: str) -> tuple[int, dict[str, Any]]:
    """The real `samenloop gateway check`, with a JSON report."""
    report = file.with_name(file.name + ".report.json")
    result = CliRunner().invoke(
        app,
        [
            "gateway",
            "check",
            str(file),
            "--as-of",
            AS_OF.isoformat(),
            "--report",
            str(report),
            *args,
        ],
    )
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(report.read_text("utf-8"))


def test_gateway_check_accepts_valid_rows_and_rejects_each_invalid_row_as_recorded(
    city_dir: Path, truth: dict[str, Any]
) -> None:
    expected_counts = truth["files"]["read_accepted"]
    for file, mapping in SIGNAL_FILES.items():
        _, report = _check(city_dir / file, "--mapping", str(REPO / mapping))
        got = sorted((r["line"], r["code"]) for r in report["rejections"])
        want = sorted((r["line"], r["code"]) for r in truth["rejected_rows"] if r["file"] == file)
        assert want, f"{file}: the city has no invalid rows to check"
        assert got == want, file
        counts = report["counts"]
        assert {k: counts[k] for k in ("read", "accepted", "rejected")} == expected_counts[file]
    problems = {r["problem"] for r in truth["rejected_rows"]}
    assert problems >= {"bad_bsn", "bad_postcode", "unknown_type", "bad_date", "date_format"}


def test_links_and_withdrawals_pass_the_check(city_dir: Path) -> None:
    code, report = _check(
        city_dir / "municipality/links.csv",
        "--mapping",
        str(REPO / "examples/partners/gemeente/links-mapping.yaml"),
    )
    assert (code, report["counts"]["rejected"]) == (0, 0)
    assert report["counts"]["read"] > 600
    for kind in ("housing", "police", "mental_health", "municipality"):
        code, report = _check(city_dir / kind / "withdrawals.csv", "--kind", "withdrawals")
        assert (code, report["counts"]["rejected"]) == (0, 0), kind


def test_withdrawals_name_signals_the_partner_sent(city_dir: Path) -> None:
    text = (city_dir / "municipality/signals.csv").read_text("utf-8-sig")
    sent = {row["zaaknummer"] for row in csv.DictReader(text.splitlines(), delimiter=";")}
    with (city_dir / "municipality/withdrawals.csv").open(encoding="utf-8") as f:
        withdrawn = [row["signal_id"] for row in csv.DictReader(f, delimiter=";")]
    assert withdrawn and set(withdrawn) <= sent


def test_mappings_are_the_shipped_ones(city_dir: Path) -> None:
    manifest = json.loads((city_dir / "manifest.json").read_text("utf-8"))
    mapped = [f for f in manifest["files"] if "mapping" in f]
    assert len(mapped) == 5
    for entry in mapped:
        copy = (city_dir / entry["mapping"]).read_bytes()
        assert copy == (REPO / entry["mapping_source"]).read_bytes()


def test_messy_formatting_is_present(city_dir: Path) -> None:
    housing = (city_dir / "housing/export.csv").read_bytes().decode("cp1252")
    rows = list(csv.DictReader(housing.splitlines(), delimiter=";"))
    assert any(" " in r["Postcode"] for r in rows)
    assert any(r["Postcode"][4:].strip().islower() for r in rows)
    assert any(r["Huisnr"][-1:].isalpha() or "-" in r["Huisnr"] for r in rows)
    assert all(r["Datum signaal"][2] == "-" for r in rows if r["Dossiernr"].startswith("DH-26-0"))
    links = (city_dir / "municipality/links.csv").read_text("utf-8")
    leading_zero = {line.split(";")[0][1:] for line in links.splitlines() if line.startswith("0")}
    signals = (city_dir / "municipality/signals.csv").read_text("utf-8-sig")
    dropped = [
        r["bsn"] for r in csv.DictReader(signals.splitlines(), delimiter=";") if len(r["bsn"]) == 8
    ]
    assert dropped and set(dropped) <= leading_zero
    assert (city_dir / "mental_health/export.xlsx").read_bytes()[:2] == b"PK"


def test_truth_says_it_holds_synthetic_people_only(truth: dict[str, Any]) -> None:
    assert "synthetic people only" in truth["notice"]
    assert set(truth["policies"]) == {
        "jeugd-verzuim-huiselijk-geweld",
        "wams-meervoudige-problematiek",
        "wams-overlast-schulden",
        "wgs-vroegsignalering-wonen",
    }


def test_bsns_pass_the_elfproef_and_are_unique() -> None:
    city = generate_city(3000, 5, AS_OF)
    bsns = [p.bsn for p in city.persons.values()]
    assert len(bsns) > 3000
    assert all(elfproef(b) for b in bsns)
    assert len(set(bsns)) == len(bsns)
    assert {link.bsn for link in city.links} == set(bsns)


def test_cli_writes_a_city_and_refuses_a_bad_date(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(
        app,
        [
            "synth",
            "city",
            "--households",
            "40",
            "--seed",
            "3",
            "--out",
            str(tmp_path / "c"),
            "--as-of",
            "2026-12-01",
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert "wgs-vroegsignalering-wonen (standing)" in ok.output
    assert (tmp_path / "c" / "truth.json").is_file()
    bad = runner.invoke(
        app,
        ["synth", "city", "-n", "4", "-s", "3", "-o", str(tmp_path / "d"), "--as-of", "1-12-2026"],
    )
    assert bad.exit_code == 2
    assert "YYYY-MM-DD" in bad.output
    assert "Traceback" not in bad.output


def test_debt_help_applications_come_first_in_the_municipality_export(city_dir: Path) -> None:
    """A standing veto is stored before the signals it vetoes, whatever the ingest order."""
    text = (city_dir / "municipality/signals.csv").read_text("utf-8-sig")
    types = [
        r["signal_type"]
        for r in csv.DictReader(text.splitlines(), delimiter=";")
        if not r["zaaknummer"].startswith("Z-2026-X")
    ]
    assert "schuldhulp_aanvraag" in types
    first_other = next(i for i, t in enumerate(types) if t != "schuldhulp_aanvraag")
    assert "schuldhulp_aanvraag" not in types[first_other:]
