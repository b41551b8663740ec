"""The demo's identity scan finds what it must (so "none found" in the report means something),
and reasons that are not codes become codes before they leave a gateway."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from samenloop.demo.checks import Identities, scan, scan_database
from samenloop.demo.flow import reason_code


def _identities() -> Identities:
    ids = Identities()
    ids.add_bsn("011122233")
    ids.add_name("de Wit")
    ids.add_name("Jansen")
    ids.postcodes.add("3072AB")
    ids.birth_dates.add("1984-05-17")
    return ids


def test_scan_names_each_kind_it_finds(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text('{"event": "x", "bsn": "11122233"}\n'         # leading zero dropped
                   '{"event": "y", "who": "I. de Wit", "pc": "3072 ab"}\n'
                   '{"event": "z", "born": "1984-05-17"}\n')
    assert sorted(f.what for f in scan([log], _identities())) == [
        "birth date", "bsn", "name", "postcode"]


def test_scan_finds_a_name_glued_to_an_id(tmp_path: Path) -> None:
    log = tmp_path / "c.log"
    log.write_text('{"event": "inquiry", "request_id": "Jansen-17"}\n')
    assert [f.what for f in scan([log], _identities())] == ["name"]


def test_scan_ignores_lookalikes(tmp_path: Path) -> None:
    log = tmp_path / "b.log"
    log.write_text('{"event": "Jansenius", "id": "1011122233", "pc": "3072ABC", '
                   '"at": "1984-05-170"}\n')
    assert scan([log], _identities()) == []


def test_database_scan_reads_every_table_but_not_random_bytes(tmp_path: Path) -> None:
    db = tmp_path / "m.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE t (pseudonym BLOB, note TEXT)")
        conn.execute("INSERT INTO t VALUES (?, ?)", (b"\xff\xfeJansen\x00", "ok"))
    assert scan_database(db, _identities()) == []
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO t VALUES (?, ?)", (b'{"n": "Jansen"}', "3072AB"))
    assert sorted(f.what for f in scan_database(db, _identities())) == ["name", "postcode"]


def test_reason_text_becomes_a_code() -> None:
    codes = ["multiple_problems_suspected", "eviction_threatened", "repeated_incidents"]
    assert reason_code("eviction_threatened", codes) == "eviction_threatened"
    assert reason_code("Eviction threatened", codes) == "eviction_threatened"
    assert reason_code("zorgen over het gezin", codes) == "multiple_problems_suspected"
