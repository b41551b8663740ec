"""Write the example exports with their dates moved to a given day (default: today).

A signal must lie within its type's retention (183 to 365 days in the catalogue) and not in the
future, so a static example file stops passing `samenloop gateway check` within months. The
files in this folder are written for `WRITTEN_FOR`; this script copies the folder and moves
every recent date by the same number of days, so each row keeps its relation to "today": the
good rows stay good, the deliberately bad ones (`FUTURE`, `OLD`, a date in a wrong format) stay
bad for the same reason.

    python -m examples.render DEST [--as-of YYYY-MM-DD]
    samenloop gateway check DEST/canonical/signals.csv

Only dates within `WINDOW` of `WRITTEN_FOR` move (signal dates, and the deliberately future
one); birth dates and the BRP's address dates lie years back and stay. Files are rewritten byte
for byte otherwise (encodings, BOM, CRLF and quoting are the point of the partner examples).
"""

from __future__ import annotations

import argparse
import re
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Final

HERE: Final = Path(__file__).resolve().parent
WRITTEN_FOR: Final = date(2026, 11, 20)
"""The day the files in this folder are written for (their "today")."""
WINDOW: Final = timedelta(days=366)
DATA_SUFFIXES: Final = (".csv", ".jsonl", ".yaml")

_ISO: Final = re.compile(rb"(?<![0-9])([0-9]{4})-([0-9]{2})-([0-9]{2})(?![0-9])")
_DUTCH: Final = re.compile(rb"(?<![0-9])([0-9]{2})-([0-9]{2})-([0-9]{4})(?![0-9])")


def _moved(day: date, shift: timedelta) -> date | None:
    return day + shift if abs(day - WRITTEN_FOR) <= WINDOW else None


def shift_dates(data: bytes, shift: timedelta) -> bytes:
    """`data` with every recent YYYY-MM-DD and DD-MM-YYYY date moved by `shift`."""

    def iso(m: re.Match[bytes]) -> bytes:
        try:
            new = _moved(date(int(m[1]), int(m[2]), int(m[3])), shift)
        except ValueError:
            return m[0]
        return m[0] if new is None else new.isoformat().encode()

    def dutch(m: re.Match[bytes]) -> bytes:
        try:
            new = _moved(date(int(m[3]), int(m[2]), int(m[1])), shift)
        except ValueError:
            return m[0]
        return m[0] if new is None else new.strftime("%d-%m-%Y").encode()

    return _DUTCH.sub(dutch, _ISO.sub(iso, data))


def render_examples(dest: Path, as_of: date) -> list[Path]:
    """Copy the example exports and mappings to `dest`, dated for `as_of`; the files written."""
    shift = as_of - WRITTEN_FOR
    written = []
    for source in sorted(HERE.rglob("*")):
        if not source.is_file() or source.suffix not in DATA_SUFFIXES:
            continue
        target = dest / source.relative_to(HERE)
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.suffix == ".yaml":
            shutil.copyfile(source, target)
        else:
            target.write_bytes(shift_dates(source.read_bytes(), shift))
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m examples.render", description=__doc__)
    parser.add_argument("dest", type=Path, help="folder to write the dated examples to")
    parser.add_argument(
        "--as-of", type=date.fromisoformat, default=None, help="the day to date them for"
    )
    args = parser.parse_args(argv)
    if args.dest.resolve() == HERE:
        parser.error("write the dated copies elsewhere; the files here are the originals")
    as_of = args.as_of or date.today()
    files = render_examples(args.dest, as_of)
    print(f"wrote {len(files)} example files to {args.dest}, dated for {as_of}")


if __name__ == "__main__":
    main()
