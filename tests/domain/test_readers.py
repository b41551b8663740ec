"""The streaming CSV / JSON Lines reader: delimiters, encodings, line numbers, broken rows."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.errors import FileFormatError
from domain.formats.readers import TableReader


def _write(tmp_path: Path, name: str, content: bytes | str, encoding: str = "utf-8") -> Path:
    p = tmp_path / name
    p.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
    return p


def _rows(path: Path, **kw: object) -> list[tuple[int, dict[str, str], str | None]]:
    with TableReader(path, **kw) as t:  # type: ignore[arg-type]
        return [(r.line, r.values, r.problem.code if r.problem else None) for r in t]


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_delimiter_is_sniffed_from_the_header(tmp_path: Path, delimiter: str) -> None:
    p = _write(tmp_path, "x.csv", f"a{delimiter}b\n1{delimiter}2\n")
    with TableReader(p) as t:
        assert t.delimiter == delimiter
        assert t.header == ("a", "b")
        assert [r.values for r in t] == [{"a": "1", "b": "2"}]


def test_delimiter_inside_quotes_does_not_count(tmp_path: Path) -> None:
    p = _write(tmp_path, "x.csv", '"a;x",b,c\n1,2,3\n')
    with TableReader(p) as t:
        assert t.delimiter == ","


def test_bom_and_crlf_and_header_whitespace(tmp_path: Path) -> None:
    p = _write(tmp_path, "x.csv", "\ufeff a ;B\r\n1;2\r\n")
    with TableReader(p) as t:
        assert t.header == ("a", "B")
        assert [r.values for r in t] == [{"a": "1", "B": "2"}]


def test_line_numbers_survive_blank_lines_and_multiline_values(tmp_path: Path) -> None:
    content = 'a,b\n1,2\n\n3,"x\ny"\n,\n4,5\n'
    rows = _rows(_write(tmp_path, "x.csv", content))
    assert [(line, values["a"]) for line, values, _ in rows] == [(2, "1"), (4, "3"), (7, "4")]
    assert rows[1][1]["b"] == "x\ny"


def test_wrong_field_count_is_a_row_problem_and_reading_goes_on(tmp_path: Path) -> None:
    rows = _rows(_write(tmp_path, "x.csv", "a,b\n1,2,3\n1\n4,5\n6,7,,\n"))
    assert [(line, problem) for line, _, problem in rows] == [
        (2, "row.field_count"),
        (3, "row.field_count"),
        (4, None),
        (5, None),  # trailing empty values are tolerated
    ]


def test_trailing_delimiter_in_header(tmp_path: Path) -> None:
    with TableReader(_write(tmp_path, "x.csv", "a;b;\n1;2;\n")) as t:
        assert t.header == ("a", "b")
        assert [r.values for r in t] == [{"a": "1", "b": "2"}]


def test_invalid_utf8_rejects_only_that_row(tmp_path: Path) -> None:
    p = _write(tmp_path, "x.csv", b"a,b\n1,2\n\xff\xfe,3\n4,5\n")
    assert [(line, problem) for line, _, problem in _rows(p)] == [
        (2, None),
        (3, "row.encoding"),
        (4, None),
    ]


def test_cp1252_when_the_mapping_says_so(tmp_path: Path) -> None:
    p = _write(tmp_path, "x.csv", "naam;x\nHoëvenaars;1\n", encoding="cp1252")
    assert _rows(p)[0][2] == "row.encoding"
    assert _rows(p, encoding="cp1252")[0][1] == {"naam": "Hoëvenaars", "x": "1"}


def test_nul_byte_is_a_row_problem(tmp_path: Path) -> None:
    p = _write(tmp_path, "x.csv", b"a,b\n1,2\n3\x00,4\n5,6\n")
    problems = [(line, problem) for line, _, problem in _rows(p)]
    assert (3, "row.unreadable") in problems and (4, None) in problems and (2, None) in problems


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"\n\na,b\n", "header"),
        (b"\xff\xfea\x00,\x00b\x00\n\x00", "UTF-16"),
        (b"a,b,A\n1,2,3\n", "twice"),
        (b",,\n1,2\n", "no column names"),
    ],
)
def test_unusable_files(tmp_path: Path, content: bytes, message: str) -> None:
    p = _write(tmp_path, "x.csv", content)
    with pytest.raises(FileFormatError, match=message):
        _rows(p)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(FileFormatError, match="cannot read"):
        TableReader(tmp_path / "nope.csv")
    with pytest.raises(FileFormatError, match="directory"):
        TableReader(tmp_path)
    with pytest.raises(FileFormatError, match="encoding"):
        TableReader(_write(tmp_path, "x.csv", "a\n"), encoding="klingon")


def test_jsonl_values_and_problems(tmp_path: Path) -> None:
    lines = [
        '{"a": "x", "n": 12, "f": 1.5, "t": true, "z": null}',
        "",
        "not json",
        "[1, 2]",
        '{"a": {"nested": 1}}',
        '{"a": ""}',
        '{"a": "y"}',
    ]
    p = _write(tmp_path, "x.jsonl", "\ufeff" + "\n".join(lines) + "\n")
    rows = _rows(p)
    assert rows[0] == (1, {"a": "x", "n": "12", "f": "1.5", "t": "true", "z": ""}, None)
    assert [(line, problem) for line, _, problem in rows[1:]] == [
        (3, "row.json"),
        (4, "row.json"),
        (5, "row.nested"),
        (7, None),  # line 6 has only empty values: skipped like a blank line
    ]


def test_format_detection(tmp_path: Path) -> None:
    p = _write(tmp_path, "export.dat", '{"a": "1"}\n')
    with TableReader(p) as t:
        assert t.format == "jsonl"
    p = _write(tmp_path, "export.dat2", "a,b\n1,2\n")
    with TableReader(p) as t:
        assert t.format == "csv"


def test_reading_is_streaming(tmp_path: Path) -> None:
    p = tmp_path / "big.csv"
    with p.open("w", encoding="utf-8") as f:
        f.write("a,b\n")
        for i in range(50_000):
            f.write(f"{i},x\n")
    with TableReader(p) as t:
        first = next(iter(t))
        assert first.values == {"a": "0", "b": "x"}
        assert t._file.buffer.tell() < p.stat().st_size // 10  # type: ignore[attr-defined]


_cell = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12)


@given(st.lists(st.lists(_cell, min_size=3, max_size=3), max_size=15), st.sampled_from([",", ";"]))
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_csv_written_by_a_csv_writer_reads_back(
    tmp_path: Path, rows: list[list[str]], delimiter: str
) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter)  # quotes values holding \r or \n
    w.writerow(["x", "y", "z"])
    w.writerows(rows)
    p = tmp_path / "h.csv"
    p.write_text(buf.getvalue(), encoding="utf-8", newline="")
    got = _rows(p)
    expected = [r for r in rows if any(r)]
    readable = [(values, problem) for _, values, problem in got]
    # NUL bytes are the only thing the csv module refuses; every other row reads back exactly
    ok = [v for v, problem in readable if problem is None]
    assert len(got) <= len(expected) + sum(1 for r in rows if any("\x00" in c for c in r))
    assert ok == [
        dict(zip(["x", "y", "z"], r, strict=True))
        for r in expected
        if not any("\x00" in c for c in r)
    ]


@given(st.binary(max_size=300))
@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_no_bytes_crash_the_reader(tmp_path: Path, data: bytes) -> None:
    for name in ("b.csv", "b.jsonl"):
        p = tmp_path / name
        p.write_bytes(data)
        try:
            rows = _rows(p)
        except FileFormatError:
            continue
        for line, values, _ in rows:
            assert line >= 1
            json.dumps(values)  # plain strings only


def test_utf8_bom_with_a_wrong_encoding_setting(tmp_path: Path) -> None:
    p = _write(tmp_path, "x.csv", "\ufeffa;b\n1;2\n")
    with pytest.raises(FileFormatError, match="byte-order mark"):
        TableReader(p, encoding="cp1252")
