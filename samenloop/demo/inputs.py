"""What the demo runs on: a generated synthetic city, or a directory of given data.

Both become a `DemoData`: the exports in ingest order (links, then signals, then withdrawals,
docs/synth.md), the inquiries, the unsigned policies, the identity values that must never show
up in a log or the matcher's database, and, for the city, the answer key from truth.json.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from domain.formats import csv_safe
from domain.text_files import TextInputError, decode_utf8
from samenloop.demo.checks import Identities
from samenloop.demo.flow import Export

LIBRARY = Path(__file__).resolve().parents[2] / "policies" / "library"
PARTNER_KINDS = ("housing", "police", "mental_health", "municipality")
CANONICAL_EXPORTS = {kind: f"{kind}.csv" for kind in PARTNER_KINDS}
_IDENTITY_COLUMNS = {"bsn", "geslachtsnaam", "geboortedatum", "postcode"}


class InputError(Exception):
    """The input directory cannot be used; the message names the file and the fix."""


@dataclass
class DemoData:
    exports: list[Export]
    inquiries: Path | None
    policy_files: list[Path]
    identities: Identities
    as_of: date
    truth: dict[str, list[str]] | None = None
    """policy id -> canonical addresses that must be flagged (synthetic city only)."""
    expected_rows: dict[str, tuple[int, int, int]] | None = None
    expected_answers: list[str] | None = None
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------ the synthetic city

def synthetic_city(out: Path, households: int, seed: int, as_of: date) -> DemoData:
    from samenloop.synth import generate_city, write_city
    from samenloop.synth.write import FILES

    city = generate_city(households, seed, as_of)
    truth = write_city(city, out)
    order = {"links": 0, "signals": 1, "withdrawals": 2}
    exports = [Export(partner, kind, out / file, out / partner / Path(m).name if m else None,
                      label=file)
               for partner, kind, file, m in sorted(FILES, key=lambda f: order[f[1]])]
    identities = Identities()
    for person in city.persons.values():
        identities.add_bsn(person.bsn)
        identities.add_name(person.geslachtsnaam)
    for household in city.households.values():
        identities.postcodes.add(household.address.postcode)
    expected_rows = {f: (c["read"], c["accepted"], c["rejected"])
                     for f, c in truth["files"]["read_accepted"].items()}
    return DemoData(
        exports=exports,
        inquiries=out / "inquiries.csv",
        policy_files=sorted(LIBRARY.glob("*.yaml")),
        identities=identities,
        as_of=as_of,
        truth={pid: [h["address"] for h in entry["flagged"]]
               for pid, entry in truth["policies"].items()},
        expected_rows=expected_rows,
        expected_answers=[q["answer"] for q in truth["inquiries"]],
    )


# ------------------------------------------------------------------ a directory of given data

def given_data(source: Path, work: Path, as_of: date) -> DemoData:
    """DIR with canonical exports, brp_links.csv, optional withdrawals.csv and inquiries.csv,
    and policies/*.yaml (unsigned). Withdrawals are split per partner kind into canonical
    withdrawal files under `work/input/`."""
    if not source.is_dir():
        raise InputError(f"{source}: not a directory; give --input DIR")
    links = source / "brp_links.csv"
    if not links.is_file():
        raise InputError(f"{links}: missing; the household links (BRP) are required")
    policy_files = sorted((source / "policies").glob("*.yaml"))
    if not policy_files:
        raise InputError(f"{source / 'policies'}: no *.yaml policies")
    exports = [Export("municipality", "links", links)]
    identities = Identities()
    _collect(links, identities)
    for kind in PARTNER_KINDS:
        path = source / CANONICAL_EXPORTS[kind]
        if path.is_file():
            exports.append(Export(kind, "signals", path))
            _collect(path, identities)
    withdrawals = source / "withdrawals.csv"
    if withdrawals.is_file():
        exports.extend(_split_withdrawals(withdrawals, work / "input"))
    inquiries = source / "inquiries.csv"
    if inquiries.is_file():
        _collect(inquiries, identities)
    return DemoData(exports=exports, inquiries=inquiries if inquiries.is_file() else None,
                    policy_files=policy_files, identities=identities, as_of=as_of)


def _rows(path: Path) -> list[dict[str, str]]:
    try:
        text = decode_utf8(path.read_bytes()).removeprefix("\ufeff")
    except TextInputError as exc:
        raise InputError(f"{path}:{exc.line}: {exc}") from None
    sample = text.split("\n", 1)[0]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    return [{(k or "").strip(): (v or "").strip() for k, v in row.items()}
            for row in csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)]


def _collect(path: Path, identities: Identities) -> None:
    """Every BSN, surname, postcode and date of birth in a canonical file."""
    from domain.errors import DomainError
    from domain.identifiers.address import parse_address

    for row in _rows(path):
        if row.get("bsn"):
            digits = "".join(ch for ch in row["bsn"] if ch.isdigit())
            identities.add_bsn(digits.zfill(9))
        if row.get("geslachtsnaam"):
            identities.add_name(row["geslachtsnaam"])
        if row.get("contactpersoon"):
            identities.add_name(row["contactpersoon"])
        if row.get("geboortedatum"):
            identities.birth_dates.add(row["geboortedatum"])
        if row.get("postcode") and row.get("huisnummer"):
            try:
                address = parse_address(row["postcode"], row["huisnummer"],
                                        row.get("huisletter") or None,
                                        row.get("huisnummertoevoeging") or None)
            except DomainError:  # an invalid address is the gateway's to reject; scan the text
                identities.postcodes.add(row["postcode"].replace(" ", "").upper())
            else:
                identities.postcodes.add(address.postcode)


def _split_withdrawals(path: Path, folder: Path) -> list[Export]:
    """`partner_kind, signal_id[, reason]` into one canonical withdrawals file per kind."""
    per_kind: dict[str, list[dict[str, str]]] = {}
    for line, row in enumerate(_rows(path), start=2):
        kind = row.get("partner_kind", "")
        if kind not in PARTNER_KINDS:
            raise InputError(f"{path}:{line}: partner_kind {kind!r} is not one of "
                             f"{', '.join(PARTNER_KINDS)}")
        per_kind.setdefault(kind, []).append(
            {"signal_id": row.get("signal_id", ""), "reason": row.get("reason", "")})
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for kind in PARTNER_KINDS:
        if kind in per_kind:
            target = folder / f"withdrawals-{kind}.csv"
            with target.open("w", encoding="utf-8", newline="") as handle:
                writer = csv_safe.DictWriter(handle, fieldnames=["signal_id", "reason"])
                writer.writeheader()
                writer.writerows(per_kind[kind])
            out.append(Export(kind, "withdrawals", target))
    return out


def as_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)
