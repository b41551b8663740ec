"""Bounded fuzzing of every reader of files people hand us (ADR 0028): partner exports (CSV,
JSON Lines, xlsx), mappings, policies, configurations, trust files, the normalisers and the
CSV cells the project writes.

The targets live in `fuzz/targets.py` and assert the contract (no crash, only the reader's own
error type, one line naming where); `make fuzz` runs the same targets for minutes under
atheris. Here each runs a few dozen hypothesis examples, from inputs shaped like the format
(its punctuation, quotes, BOMs, invalid UTF-8, YAML anchors) as well as plain random bytes.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz import targets

LONG = int(os.environ.get("SAMENLOOP_FUZZ_EXAMPLES", "0"))
"""`make fuzz` sets this to run every property here with that many examples."""


def examples(n: int) -> settings:
    return settings(max_examples=LONG or n, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


FUZZ = examples(60)


def _shaped(alphabet: str, extras: list[bytes], max_size: int = 300) -> st.SearchStrategy[bytes]:
    """Text from the format's own characters, with now and then bytes that are not UTF-8."""
    text = st.text(alphabet=alphabet, max_size=max_size).map(lambda t: t.encode("utf-8"))
    pieces = st.lists(st.one_of(text, st.sampled_from(extras)), max_size=6)
    return st.one_of(st.binary(max_size=max_size), pieces.map(b"".join))


_ODD = [b"\xff", b"\xfe\xff", b"\xef\xbb\xbf", b"\x00", b"\r", b"\r\n", b"\xc3", b"\xed\xa0\x80",
        b"\t", b"'=cmd|' /C calc'!A0", b"=1+1", b"@SUM(1)", b"+31612345678", b"-2"]
CSV = _shaped('abcAB019,;"\n\r\t -_:/.=+@\'\u00eb',
              [b"signal_id,signal_type,observed_on,purpose,bsn,postcode,huisnummer\n",
               b"signal_id;reason\n", b"bsn,postcode,huisnummer,valid_from\n",
               b"A-1,huurachterstand,2026-11-01,wgs-vroegsignalering,123456782,3072AB,12\n",
               b'"', b'""', *_ODD])
JSONL = _shaped('{}[]":,abc0129 \n-.etruflsn\\u',
                [b'{"signal_id": "A-1", "reason": "resolved"}\n', b'{"a": [1, {"b": 2}]}\n',
                 b"[" * 3000, b'{"a": "\\ud800"}\n', b"1e999", *_ODD])
YAML = _shaped("abc01 :-[]{}&*!|>'\"#,\n?%@`\t.",
               [b"mapping_version: 1\n", b"format: samenloop-officers/v2\n",
                b"a: &a [x, x, x]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\n", b"<<: {x: 1}\n",
                b"!!python/object:os.system\n", b"a: &a [*a]\n", b"[" * 200,
                b"id: x\nversion: 1\n", b"window_days: 060\n", b"\x01", b"!!int zwei",
                b"!!float x", b"!!bool maybe", b"2026-13-45", b"!!timestamp x", b"!!binary ?",
                b"!!set [1]", *_ODD])
XLSX = st.binary(max_size=200)


@FUZZ
@given(CSV)
def test_csv_exports(data: bytes) -> None:
    targets.export_csv(data)


@FUZZ
@given(JSONL)
def test_jsonl_exports(data: bytes) -> None:
    targets.export_jsonl(data)


@examples(40)
@given(XLSX)
def test_damaged_workbooks(data: bytes) -> None:
    targets.export_xlsx(data)


@examples(20)
@given(st.binary(max_size=200))
def test_any_bytes_as_a_workbook(data: bytes) -> None:
    targets.export_any(data)


@FUZZ
@given(YAML)
def test_mappings(data: bytes) -> None:
    targets.mapping_yaml(data)


@FUZZ
@given(YAML)
def test_policies(data: bytes) -> None:
    targets.policy_yaml(data)


@FUZZ
@given(YAML)
def test_configurations(data: bytes) -> None:
    targets.config_yaml(data)


@FUZZ
@given(st.one_of(YAML, JSONL))
def test_trust_files(data: bytes) -> None:
    targets.trust_file(data)


@examples(150)
@given(_shaped("0123456789 .-/abcABhHIi\u00eb'\x1f+@()", [b"\x1f", b"\xff"], 60))
def test_normalisers(data: bytes) -> None:
    targets.normalisers(data)


@examples(150)
@given(_shaped("=+-@\t\r\n'\"a1,;\x1f", [b"\x1f", b"\xff"], 60))
def test_csv_cells_the_project_writes(data: bytes) -> None:
    targets.csv_cells(data)
