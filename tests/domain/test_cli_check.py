"""`samenloop gateway check`: output, exit codes, normalised file, JSON report, privacy.

No test pins a date. A signal must lie within its type's retention, so the example exports are
checked as `python -m examples.render` dates them: for today (checked without `--as-of`), and
for a day years ahead (checked with that `--as-of`).
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from examples.render import render_examples
from samenloop.cli.main import app

REPO = Path(__file__).resolve().parents[2]
TODAY = date.today()
YEARS_AHEAD = date(2031, 1, 1)
RECENT = (TODAY - timedelta(days=20)).isoformat()
NEXT_YEAR = (TODAY + timedelta(days=365)).isoformat()


@pytest.fixture(scope="module")
def ex(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example exports, dated for today."""
    dest = tmp_path_factory.mktemp("examples")
    render_examples(dest, TODAY)
    return dest


@pytest.fixture(scope="module")
def ex_2031(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("examples-2031")
    render_examples(dest, YEARS_AHEAD)
    return dest

EXAMPLES = [
    ["canonical/signals.csv"],
    ["canonical/signals.jsonl"],
    ["canonical/links.csv", "--kind", "links"],
    ["canonical/withdrawals.csv", "--kind", "withdrawals"],
    ["partners/woonstichting/export.csv", "-m", "partners/woonstichting/mapping.yaml"],
    ["partners/politie/export.jsonl", "-m", "partners/politie/mapping.yaml"],
    ["partners/ggz/export.csv", "-m", "partners/ggz/mapping.yaml"],
    ["partners/gemeente/signals.csv", "-m", "partners/gemeente/mapping.yaml"],
    ["partners/gemeente/links.csv", "-m", "partners/gemeente/links-mapping.yaml"],
    ["partners/gemeente/withdrawals.csv", "--kind", "withdrawals"],
]


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["gateway", "check", *args])
    return result.exit_code, result.stdout, result.stderr


def _in(folder: Path) -> Callable[[list[str]], list[str]]:
    def paths(args: list[str]) -> list[str]:
        return [str(folder / a) if a.endswith((".csv", ".jsonl", ".yaml")) else a for a in args]

    return paths


def _all_accepted(code: int, out: str, err: str) -> None:
    assert code == 0, err
    assert err == ""
    assert re.search(r"^rejected: 0$", out, re.M)
    read = int(re.search(r"^read:\s+(\d+)$", out, re.M).group(1))  # type: ignore[union-attr]
    assert read >= 2


@pytest.mark.parametrize("args", EXAMPLES, ids=[a[0] for a in EXAMPLES])
def test_every_example_is_accepted_today(ex: Path, args: list[str]) -> None:
    _all_accepted(*_run(*_in(ex)(args)))


@pytest.mark.parametrize("args", EXAMPLES, ids=[a[0] for a in EXAMPLES])
def test_every_example_is_still_accepted_years_ahead(ex_2031: Path, args: list[str]) -> None:
    _all_accepted(*_run(*_in(ex_2031)(args), "--as-of", YEARS_AHEAD.isoformat()))


def test_rendering_moves_signal_dates_only(ex: Path, ex_2031: Path) -> None:
    shift = (YEARS_AHEAD - TODAY).days
    today_rows = (ex / "canonical/signals.csv").read_text(encoding="utf-8").splitlines()
    later_rows = (ex_2031 / "canonical/signals.csv").read_text(encoding="utf-8").splitlines()
    for a, b in zip(today_rows[1:], later_rows[1:], strict=True):
        day_a, day_b = a.split(",")[2], b.split(",")[2]
        assert (date.fromisoformat(day_b) - date.fromisoformat(day_a)).days == shift
        assert a.replace(day_a, "") == b.replace(day_b, "")  # birth dates and the rest stay
    for name in ("partners/woonstichting/export.csv", "partners/gemeente/signals.csv"):
        original = (REPO / "examples" / name).read_bytes()
        rendered = (ex / name).read_bytes()
        assert len(rendered) == len(original)  # same encoding, BOM, line ends, quoting
        assert rendered.count(b"\r\n") == original.count(b"\r\n")
        assert rendered[:3] == original[:3]


@pytest.mark.parametrize("when", ["today", "years ahead"])
def test_rejections_are_file_line_field_reason_and_counts_follow(
    ex: Path, ex_2031: Path, when: str
) -> None:
    folder, as_of = (ex, []) if when == "today" else (ex_2031, ["--as-of", "2031-01-01"])
    path = folder / "canonical/signals-with-errors.csv"
    code, out, err = _run(str(path), *as_of)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 11
    for line in lines:
        assert re.fullmatch(rf"{re.escape(str(path))}:\d+: [a-z_]+: .+", line), line
    assert f"{path}:3: bsn: BSN fails the elfproef" in err
    assert "read:     12" in out and "accepted: 1" in out and "rejected: 11" in out
    assert re.search(r"^  bsn\.elfproef\s+1$", out, re.M)
    assert re.search(r"^  observed_on\.future\s+1$", out, re.M)
    assert re.search(r"^  observed_on\.expired\s+1$", out, re.M)


def test_normalised_and_report(tmp_path: Path, ex: Path) -> None:
    normalised, report = tmp_path / "n.csv", tmp_path / "r.json"
    code, out, _ = _run(
        str(ex / "partners/woonstichting/export.csv"),
        "-m",
        str(ex / "partners/woonstichting/mapping.yaml"),
        "--normalised",
        str(normalised),
        "--report",
        str(report),
    )
    assert code == 0
    with normalised.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 5
    # 01-10-2026 in the committed file, which is written for 2026-11-20: 50 days before "today"
    first_day = (TODAY - timedelta(days=50)).isoformat()
    assert rows[0]["bsn"] == "999990007" and rows[0]["observed_on"] == first_day
    assert rows[1]["postcode"] == "3072AB" and rows[1]["huisletter"] == "A"
    assert rows[1]["huisnummertoevoeging"] == "2"
    assert rows[3]["huisnummertoevoeging"] == "HS" and rows[3]["geslachtsnaam"] == "Hoëvenaars"
    assert rows[4]["huisnummertoevoeging"] == "2"
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["counts"] == {"read": 5, "accepted": 5, "rejected": 0, "rejected_by_reason": {}}
    assert data["rejections"] == [] and data["complete"] is True
    assert data["partner_kind"] == "housing" and data["catalogue_version"] == "2025.1"
    assert "personal data" in out
    # the normalised file is itself a valid canonical export
    code, _, err = _run(str(normalised))
    assert code == 0, err


def test_report_lists_every_problem(tmp_path: Path, ex: Path) -> None:
    report = tmp_path / "r.json"
    code, _, _ = _run(str(ex / "canonical/signals-with-errors.csv"), "--report", str(report))
    assert code == 1
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["counts"]["rejected"] == 11 and len(data["rejections"]) == 11
    assert data["rejections"][0] == {
        "line": 3,
        "field": "bsn",
        "code": "bsn.elfproef",
        "reason": "BSN fails the elfproef (check digit); look for a typing error",
    }


def _csv(tmp_path: Path, text: str, name: str = "x.csv") -> str:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return str(p)


def test_unusable_inputs_exit_2(tmp_path: Path) -> None:
    good = _csv(tmp_path, "signal_id,signal_type,observed_on,bsn\n")
    bad_map = tmp_path / "m.yaml"
    bad_map.write_text("mapping_version: 7\n")
    links_map = tmp_path / "l.yaml"
    links_map.write_text("mapping_version: 1\nkind: links\n")
    cases = [
        ([str(tmp_path / "missing.csv")], "not a readable file"),
        ([good, "-m", str(bad_map)], "mapping_version"),
        ([good, "-m", str(tmp_path / "none.yaml")], "cannot read"),
        ([good, "--kind", "signals", "-m", str(links_map)], "is for links"),
        ([good, "--as-of", "yesterday"], "--as-of"),
        ([good, "--purpose", "marketing"], "--purpose"),
        ([good, "--normalised", good], "overwrite"),
        ([_csv(tmp_path, "signal_id,naam\n", "y.csv")], "'naam'"),
        ([good, "--kind", "alerts"], ""),
    ]
    for args, message in cases:
        code, _, err = _run(*args)
        assert code == 2, (args, err)
        assert message in err, (args, err)


def test_header_problem_still_closes_the_report(tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    code, _, err = _run(_csv(tmp_path, "signal_id,vrije_tekst\n"), "--report", str(report))
    assert code == 2 and "vrije_tekst" in err
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["complete"] is False and "vrije_tekst" in data["error"]


def test_empty_file_and_default_kind(tmp_path: Path) -> None:
    code, out, _ = _run(_csv(tmp_path, "signal_id,signal_type,observed_on,bsn\n"))
    assert code == 0 and "no data rows" in out


PERSONAL = {
    "bsn_bad": "999990018",
    "bsn_good": "999990044",
    "name": "Vermeulen-Oosterhuis",
    "name_digit": "Brouwer7",
    "postcode": "9999SS",
    "postcode_good": "9733 HK",
    "huisnummer": "4711 zwart",
    "born": "1963-00-00",
    "born_good": "1963-04-27",
    "phone": "06-9876",
    "phone_good": "06-98765432",
    "email": "greet@@brouwer.nl",
    "email_good": "greet.vermeulen@example.nl",
}


def test_no_personal_value_appears_in_any_output(tmp_path: Path) -> None:
    p = PERSONAL
    header = (
        "signal_id,signal_type,observed_on,bsn,postcode,huisnummer,geslachtsnaam,"
        "geboortedatum,telefoon,email"
    )
    rows = [
        f"A1,ggz_crisiscontact,{RECENT},{p['bsn_bad']},,,{p['name']},,,",
        f"A2,huurachterstand,{RECENT},{p['bsn_good']},{p['postcode']},{p['huisnummer']},"
        f"{p['name_digit']},{p['born']},{p['phone']},{p['email']}",
        # valid personal values in rows rejected for other reasons
        f"A3,huurachterstand,{NEXT_YEAR},{p['bsn_good']},{p['postcode_good']},12,{p['name']},"
        f"{p['born_good']},{p['phone_good']},{p['email_good']}",
        f"A4,onbekend_type,{RECENT},{p['bsn_good']},,,,,,",
        f"{p['bsn_good']},ggz_crisiscontact,{RECENT},{p['bsn_good']},,,,,,",
        f"A6,ggz_crisiscontact,{RECENT},{p['bsn_good']},,,,,,,extra",
    ]
    src = _csv(tmp_path, header + "\n" + "\n".join(rows) + "\n")
    report = tmp_path / "r.json"
    code, out, err = _run(
        src, "--report", str(report), "--purpose", "wams-gecoordineerde-aanpak"
    )
    assert code == 1
    assert err.count("\n") >= 10
    everything = out + err + report.read_text(encoding="utf-8")
    for name, value in p.items():
        variants = {value, value.replace(" ", ""), value.replace("-", "")}
        for v in variants:
            assert v not in everything, f"{name} leaked"
    for digits in ("99999", "9876", "4711"):
        assert digits not in everything


def test_docs_link_to_existing_examples() -> None:
    text = (REPO / "docs" / "formats.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\((\.\./examples/[^)#]+)\)", text)
    assert len(targets) >= 8
    for target in targets:
        assert (REPO / "docs" / target).resolve().exists(), target


# --- workbooks, kinds, machine output and progress ---------------------------------------------


def test_an_xlsx_export_is_checked_with_sheet_and_excel_row_numbers(tmp_path: Path) -> None:
    import openpyxl

    path = tmp_path / "intrekkingen.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Intrekkingen"
    sheet.append(["signal_id", "reason"])
    sheet.append(["HA-1", "resolved"])
    sheet.append(["HA 2", "betaald"])
    book.save(path)
    code, out, err = _run(str(path), "--kind", "withdrawals")
    assert code == 1
    assert err.splitlines() == [
        f"{path}[Intrekkingen]:3: signal_id: signal_id may hold 1 to 64 letters, digits and "
        ". _ - : / (no spaces), starting with a letter or digit",
        f"{path}[Intrekkingen]:3: reason: reason must be empty or one of: resolved, retracted, "
        "error, objection, moved, deceased, other",
    ]
    assert "PK" not in out + err
    assert re.search(r"^read:\s+2$", out, re.M)


def test_a_withdrawals_file_is_recognised_by_its_columns(tmp_path: Path) -> None:
    path = tmp_path / "w.csv"
    path.write_text("signal_id,reason\nHA-1,resolved\n")
    code, out, err = _run(str(path))
    assert code == 0, err
    assert "as withdrawals" in out
    assert "--kind withdrawals" in err


def test_a_file_of_no_known_kind_is_told_about_kind(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("signal_id,reden\nHA-1,resolved\n")
    code, _, err = _run(str(path))
    assert code == 2
    [line] = err.strip().splitlines()
    assert "'reden'" in line and "--kind links or --kind withdrawals" in line


def test_json_prints_one_summary_object(ex: Path) -> None:
    code, out, err = _run(str(ex / "canonical/signals-with-errors.csv"), "--json")
    assert code == 1
    summary = json.loads(out)
    assert summary["kind"] == "signals"
    assert summary["counts"]["rejected"] == len({ln.split(":")[1] for ln in err.splitlines()})
    assert summary["checked_as_of"] == TODAY.isoformat()


def test_progress_shows_on_a_terminal_only(ex: Path) -> None:
    import os
    import pty
    import subprocess
    import sys

    args = [sys.executable, "-m", "samenloop.cli.main", "gateway", "check",
            str(ex / "canonical/signals.csv")]
    piped = subprocess.run(args, capture_output=True, text=True, check=False)
    assert piped.returncode == 0 and piped.stderr == ""

    main, child = pty.openpty()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=child, close_fds=True)
    os.close(child)
    seen = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(main)
    assert proc.wait(timeout=60) == 0
    assert b"checking signals.csv" in seen and b"rows" in seen
