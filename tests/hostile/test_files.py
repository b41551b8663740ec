"""Every file people hand samenloop, made hostile: YAML bombs (alias expansion, recursion,
nesting, size, control characters) in each YAML reader, and invalid UTF-8 in every text reader.
Each is refused with one line naming the file and the line, fast (ADR 0028)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from domain.catalogue import load_catalogue
from domain.codes import CodesError, load_codes
from domain.errors import CatalogueError, FileFormatError, MappingError
from domain.formats import load_mapping
from domain.formats.readers import TableReader
from policies.errors import PolicySyntaxError, TrustFileError
from policies.source import read_policy_file
from policies.trust import load_trust
from samenloop.demo.inputs import InputError, _rows
from services.common.config import ConfigError, read_config_file
from services.common.denylist import DenyList
from services.wijkteam.accounts import AccountError, AccountStore

YAML_READERS: dict[str, tuple[Callable[[Path], object], type[Exception]]] = {
    "policy": (read_policy_file, PolicySyntaxError),
    "configuration": (read_config_file, ConfigError),
    "mapping": (load_mapping, MappingError),
    "trust file": (load_trust, TrustFileError),
    "catalogue": (load_catalogue, CatalogueError),
    "code lists": (load_codes, CodesError),
}


def _bomb(levels: int = 9) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, levels)]
    return "# comment\n" + "\n".join(lines) + "\n"


# (what, the file's text, the line it must name or None, words in the message)
BOMBS = [
    ("billion laughs", _bomb(), 6, "aliases written out"),
    ("recursive alias", "x: 1\na: &a [1, *a]\n", 2, "contains it"),
    ("deep nesting", "x: 1\na: " + "[" * 1000 + "]" * 1000 + "\n", 2, "nested more than 32"),
    ("deep through an alias", "a: &a " + "[" * 30 + "]" * 30 + "\nb: [[[*a]]]\n", 2,
     "nested more than 32"),
    ("two mebibytes", "a: " + "x" * (2 * 1024 * 1024) + "\n", None, "larger than 1024 KiB"),
    ("a control character", "a: 1\nb: x\x07y\n", 2, "U+0007"),
    ("a value not of its tag", "a: 1\nb: !!int zwei\n", 2, "cannot be read as int"),
    ("an empty timestamp", "a: 1\nb: !!timestamp\n", 2, "timestamp"),  # AttributeError
]


@pytest.mark.parametrize("reader", YAML_READERS)
@pytest.mark.parametrize(("what", "text", "line", "words"), BOMBS, ids=[b[0] for b in BOMBS])
def test_every_yaml_reader_refuses_yaml_bombs_naming_file_and_line(
        tmp_path: Path, reader: str, what: str, text: str, line: int | None, words: str) -> None:
    load, error = YAML_READERS[reader]
    path = tmp_path / "input.yaml"
    path.write_text(text, encoding="utf-8")
    started = time.process_time()
    with pytest.raises(error) as info:
        load(path)
    message = str(info.value)
    assert time.process_time() - started < 10  # a hang guard, not a speed claim
    assert words in message and "\n" not in message, message
    assert str(path) in message or (reader == "policy" and info.value.line is not None)
    if what == "billion laughs" and reader == "policy":
        line = 5  # a3 (10,001 values) crosses the policy reader's 10,000; a4 the 100,000
    if line is not None:
        assert f":{line}:" in message or f"line {line}" in message, message


def test_aliases_within_the_limits_still_work(tmp_path: Path) -> None:
    """PyYAML's own dumper writes anchors for a value used twice; configurations may too."""
    path = tmp_path / "c.yaml"
    path.write_text("quota: &q {daily_elements: 10, burst: 5}\norganisations:\n"
                    "  a: *q\n  b: *q\n", encoding="utf-8")
    data = read_config_file(path).data
    assert data["organisations"] == {"a": {"daily_elements": 10, "burst": 5},
                                     "b": {"daily_elements": 10, "burst": 5}}


BAD = b"caf\xe9"  # Latin-1, not UTF-8


def _third_line_bad(tmp_path: Path, name: str, first: bytes, second: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(first + b"\n" + second + b"\n" + b"x: " + BAD + b"\n")
    return path


@pytest.mark.parametrize("reader", YAML_READERS)
def test_invalid_utf8_in_a_yaml_reader_names_file_line_and_column(
        tmp_path: Path, reader: str) -> None:
    load, error = YAML_READERS[reader]
    path = _third_line_bad(tmp_path, "input.yaml", b"# one", b"# two")
    with pytest.raises(error) as info:
        load(path)
    message = str(info.value)
    assert "not UTF-8" in message and "line 3, column 7" in message, message
    assert str(path) in message and "\n" not in message


def test_invalid_utf8_in_the_other_text_readers(tmp_path: Path) -> None:
    deny = _third_line_bad(tmp_path, "deny.txt", b"# revoked", b"0a1b")
    with pytest.raises(ConfigError, match=rf"{deny}:3: .*line 3, column 7"):
        DenyList(deny)
    users = _third_line_bad(tmp_path, "users.json", b"{", b'"format": 1,')
    os.chmod(users, 0o600)
    with pytest.raises(AccountError, match=rf"{users}:3: .*line 3, column 7"):
        AccountStore(users).users()
    demo = _third_line_bad(tmp_path, "signals.csv", b"signal_id,reason", b"A-1,resolved")
    with pytest.raises(InputError, match=rf"{demo}:3: .*line 3, column 7"):
        _rows(demo)


def test_invalid_utf8_in_exports_rejects_the_row_or_names_the_header_line(
        tmp_path: Path) -> None:
    csv = tmp_path / "e.csv"
    csv.write_bytes(b"signal_id,reason\nA-1,resolved\nA-2," + BAD + b"\nA-3,resolved\n")
    with TableReader(csv) as table:
        assert [(r.line, r.problem.code if r.problem else None) for r in table] == [
            (2, None), (3, "row.encoding"), (4, None)]
    jsonl = tmp_path / "e.jsonl"
    jsonl.write_bytes(b'{"a": "1"}\n{"a": "2"}\n{"a": "' + BAD + b'"}\n')
    with TableReader(jsonl) as table:
        assert [(r.line, r.problem.code if r.problem else None) for r in table][-1] == (
            3, "row.encoding")
    header = tmp_path / "h.csv"
    header.write_bytes(b"signal_id," + BAD + b"\nA-1,x\n")
    with pytest.raises(FileFormatError, match=rf"{header}:1: the header is not valid text"):
        list(TableReader(header))
