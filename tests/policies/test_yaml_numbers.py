"""The officers' YAML reader: numbers and booleans mean what the officer read, or are refused.

PyYAML follows YAML 1.1, where `window_days: 060` is 48 and `1:30` is 90; YAML 1.2 (what
editors and most other tools follow) reads 60 and the text "1:30". An officer would sign a
number other than the one they read. The reader refuses every plain scalar the two versions
read differently, with the line and the fix; the oracle for "what YAML 1.2 reads" is the core
schema table (YAML 1.2.2 section 10.3.2), written out here independently of the code.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import assume, given
from hypothesis import strategies as st
from typer.testing import CliRunner

from policies.errors import PolicySyntaxError
from policies.lint import lint_text
from policies.model import load_policy
from policies.source import parse_yaml
from samenloop.cli.main import app

LIBRARY = Path(__file__).resolve().parents[2] / "policies" / "library"
WAMS = LIBRARY / "wams-meervoudige-problematiek.yaml"


def yaml12_core(text: str) -> Any:
    """What a YAML 1.2 core-schema reader makes of a plain scalar (spec 10.3.2), by hand."""
    if text in {"null", "Null", "NULL", "~", ""}:
        return None
    if text in {"true", "True", "TRUE"}:
        return True
    if text in {"false", "False", "FALSE"}:
        return False
    if re.fullmatch(r"[-+]?[0-9]+", text):
        return int(text, 10)
    if re.fullmatch(r"0o[0-7]+", text):
        return int(text[2:], 8)
    if re.fullmatch(r"0x[0-9a-fA-F]+", text):
        return int(text[2:], 16)
    if re.fullmatch(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?", text):
        return float(text)
    if re.fullmatch(r"[-+]?\.(inf|Inf|INF)", text):
        return -math.inf if text.startswith("-") else math.inf
    if re.fullmatch(r"\.(nan|NaN|NAN)", text):
        return math.nan
    return text


def read_value(text: str) -> Any:
    return parse_yaml(f"value: {text}\n").document["value"]


# --- the cases the issue names, and their fixes -----------------------------------------------

REFUSED = [
    # (plain scalar, what the message must say)
    ("060", "YAML 1.1 reads it as the octal number 48, YAML 1.2 as 60; write 60"),
    ("007", "octal number 7"),
    ("-010", "octal number -8, YAML 1.2 as -10; write -10"),
    ("09", "text (8 and 9 are no octal), YAML 1.2 as 9; write 9"),
    ("1:30", "YAML 1.1 reads it as 90, YAML 1.2 as text; write 90"),
    ("2:00:00", "as 7200"),
    ("0x3C", "hexadecimal number, which YAML 1.1 and YAML 1.2 do not read alike; write 60"),
    ("0o74", "octal number, which YAML 1.1 and YAML 1.2 do not read alike; write 60"),
    ("0b111100", "binary number, which YAML 1.1 and YAML 1.2 do not read alike; write 60"),
    ("1_000", "write 1000 without separators"),
    ("60.0", "not a whole number in plain digits"),
    ("1e3", "not a whole number in plain digits"),
    (".inf", "not a whole number in plain digits"),
    ("yes", "`yes` is the boolean true in YAML 1.1 but the text 'yes' in YAML 1.2; write true"),
    ("No", "the boolean false in YAML 1.1"),
    ("on", "the boolean true"),
    ("OFF", "the boolean false"),
]


@pytest.mark.parametrize(("text", "says"), REFUSED, ids=[t for t, _ in REFUSED])
def test_ambiguous_plain_scalars_are_refused_with_line_and_fix(text: str, says: str) -> None:
    with pytest.raises(PolicySyntaxError) as info:
        parse_yaml(f"id: a\ntrigger:\n  window_days: {text}\n")
    assert info.value.line == 3
    assert says in info.value.reason


@pytest.mark.parametrize("text", ["60", "0", "-3", "+7", "true", "False", "TRUE", "~", "null"])
def test_unambiguous_plain_scalars_read_as_in_both_versions(text: str) -> None:
    assert read_value(text) == yaml12_core(text) == yaml.safe_load(f"v: {text}")["v"]


@pytest.mark.parametrize("text", ['"060"', "'1:30'", '"yes"', "'0x3C'"])
def test_quoted_scalars_are_text(text: str) -> None:
    assert read_value(text) == text[1:-1]


def test_text_that_only_looks_like_it_contains_numbers_is_text() -> None:
    for text in ["GM0363", "wams-01", "art. 2 en 3", "2026-01-01", "12:30 uur", "on_request"]:
        assert read_value(text) == text


def test_a_field_name_is_checked_too() -> None:
    with pytest.raises(PolicySyntaxError, match="boolean") as info:
        parse_yaml("id: a\nyes: 1\n")
    assert info.value.line == 2


def test_the_scenario_from_the_issue_no_longer_lints_clean() -> None:
    text = WAMS.read_text(encoding="utf-8")
    day = load_policy(WAMS).valid_from  # a day inside the library policy's validity
    assert "window_days: 180" in text
    assert lint_text(text, today=day).ok
    for bad, means in [("060", "48"), ("1:30", "90")]:
        report = lint_text(text.replace("window_days: 180", f"window_days: {bad}"), today=day)
        assert not report.ok
        (finding,) = report.errors
        assert finding.line == text[: text.index("window_days")].count("\n") + 1
        assert means in finding.message


def test_the_cli_names_file_and_line(tmp_path: Path) -> None:
    text = WAMS.read_text(encoding="utf-8")
    path = tmp_path / "p.yaml"
    path.write_text(text.replace("window_days: 180", "window_days: 060"), encoding="utf-8")
    line = text[: text.index("window_days")].count("\n") + 1
    result = CliRunner().invoke(app, ["policy", "lint", str(path)])
    assert result.exit_code == 1
    assert f"{path}:{line}: error: `060` has a leading zero" in result.output
    assert "write 60" in result.output


# --- properties --------------------------------------------------------------------------------

NUMBERISH = st.text(alphabet="0123456789+-.:_xobeEaAfFinNIsyYoOlL", min_size=1, max_size=9)
WORDS = st.sampled_from(
    ["yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF", "y", "n",
     "true", "True", "TRUE", "false", "FALSE", ".inf", "-.Inf", ".NaN", "null", "~"]
)


def _yaml11(text: str) -> Any:
    try:
        value = yaml.safe_load(f"v: {text}\n")
    except yaml.YAMLError:
        return None
    return value.get("v", None) if isinstance(value, dict) else None


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


@given(st.one_of(NUMBERISH, WORDS))
def test_an_accepted_plain_scalar_reads_as_yaml_1_2_core_says(text: str) -> None:
    assume(isinstance(_yaml11(text), str | int | float | bool | None))
    assume(not text.startswith(("-", ":", "?")))  # YAML indicators, not scalars
    try:
        value = read_value(text)
    except PolicySyntaxError:
        return
    assert _same(value, yaml12_core(text)), (text, value)


@given(st.one_of(NUMBERISH, WORDS))
def test_where_yaml_1_1_and_1_2_disagree_the_reader_refuses(text: str) -> None:
    assume(not text.startswith(("-", ":", "?")))
    old = _yaml11(text)
    assume(isinstance(old, str | int | float | bool))
    if _same(old, yaml12_core(text)):
        return
    with pytest.raises(PolicySyntaxError):
        read_value(text)


@given(st.integers(min_value=1, max_value=10**6), st.integers(min_value=1, max_value=3))
def test_a_number_reads_as_its_digits_and_padded_it_is_refused(n: int, zeros: int) -> None:
    assert read_value(str(n)) == n
    with pytest.raises(PolicySyntaxError, match=f"write {n}"):
        read_value("0" * zeros + str(n))


@given(st.integers(min_value=60, max_value=10**6))
def test_base_60_spellings_are_refused_naming_their_yaml_1_1_value(n: int) -> None:
    hours, rest = divmod(n, 60)
    with pytest.raises(PolicySyntaxError, match=f"reads it as {n},"):
        read_value(f"{hours}:{rest:02d}")


@given(st.integers(min_value=1000, max_value=10**6), st.integers(min_value=1, max_value=3))
def test_digit_separators_are_refused(n: int, at: int) -> None:
    digits = str(n)
    with pytest.raises(PolicySyntaxError, match=f"write {n} without separators"):
        read_value(digits[:at] + "_" + digits[at:])
