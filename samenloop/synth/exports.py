"""Write the city's signals in each partner's own export format, messy but legitimate.

Each partner's file is what its shipped mapping (examples/partners/*/mapping.yaml) reads:

- housing/export.csv (woonstichting): cp1252, `;`, day-first dates, its own codes, huisletter
  and toevoeging inside `Huisnr`;
- police/export.jsonl (politie): JSON Lines, its own codes, `12-A-2` house numbers;
- mental_health/export.xlsx (GGZ): an Excel workbook, date cells, BSNs stored as numbers;
- municipality/signals.csv (gemeente): UTF-8 with BOM, `;`; and links.csv from the BRP.

Every rendering is checked against the domain's own parser before it is written (a rendering
that would not read back as the same address falls back to the plain form), so messiness never
changes meaning. Invalid rows are added on purpose, one problem each, and returned with the
reason code the gateway check reports for them.
"""

from __future__ import annotations

import io
import json
import random
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from domain.errors import InvalidValue
from domain.formats import csv_safe
from domain.identifiers.address import Address, parse_address
from samenloop.synth.model import City, Person, Signal

__all__ = ["InvalidRow", "write_exports"]

HOUSING_CODES = {
    "huurachterstand": "HA2",
    "ontruiming_aangezegd": "ONTR",
    "woonoverlast_melding": "OVL",
    "woning_ernstig_vervuild": "VERV",
}
HOUSING_PURPOSES = {"wgs-vroegsignalering": "VS", "wams-gecoordineerde-aanpak": "WAMS"}
POLICE_CODES = {
    "verward_gedrag_e33": "E33",
    "huiselijk_geweld_incident": "HG",
    "politie_herhaalde_inzet_adres": "HERH",
    "zorgmelding_minderjarige": "ZM",
    "middelen_incident": "MID",
    "woonoverlast_melding": "OVL",
}
GGZ_CODES = {
    "ggz_crisiscontact": "CRISIS",
    "ggz_zorgmijding": "ZORGMIJDING",
    "ggz_uitstroom_zonder_woonplek": "UITSTROOM",
}

# What the gateway check reports for each deliberate mistake (tests/synth checks every one).
INVALID_CODES = {
    "bad_bsn": "bsn.elfproef",
    "bad_postcode": "postcode.letters",
    "unknown_type": "signal_type.unknown",
    "bad_date": "observed_on.invalid",
    "date_format": "observed_on.format",
}
_FIXED_ZIP_TIME = (2026, 1, 1, 0, 0, 0)
_MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")


@dataclass(frozen=True, slots=True)
class InvalidRow:
    """A row written wrong on purpose: where it is and the reason code it must be rejected with."""

    file: str
    line: int
    code: str
    problem: str


Row = dict[str, Any]


class _Render:
    """Messy-but-valid renderings, each checked against the domain parser."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def postcode(self, pc: str) -> str:
        digits, letters = pc[:4], pc[4:]
        return self.rng.choice(
            (
                pc,
                pc,
                f"{digits} {letters}",
                f"{digits}{letters.lower()}",
                f"{digits} {letters.lower()}",
            )
        )

    def bsn(self, bsn: str) -> str:
        """A spreadsheet drops the leading zero; some systems group the digits."""
        if bsn.startswith("0") and self.rng.random() < 0.7:
            return bsn[1:]
        if self.rng.random() < 0.08:
            return f"{bsn[:3]} {bsn[3:6]} {bsn[6:]}"
        return bsn

    def huisnummer(self, a: Address, hyphen_letter: str) -> str:
        """Letter and addition written inside the number, as partners' systems do."""
        letter = a.huisletter
        if hyphen_letter == "huisletter":
            options = [str(a.huisnummer) + "".join(f"-{p}" for p in (letter, a.toevoeging) if p)]
        else:
            low = letter.lower()
            toev = a.toevoeging
            options = [
                f"{a.huisnummer}{letter}" + (f"-{toev}" if toev else ""),
                f"{a.huisnummer}{low}" + (f"-{toev.lower()}" if toev else ""),
                f"{a.huisnummer}{' ' + low if low else ''}" + (f" {toev.lower()}" if toev else ""),
            ]
        for text in self.rng.sample(options, len(options)):
            if _reads_as(a, a.postcode, text, "", "", hyphen_letter):
                return text
        raise AssertionError("no rendering of a generated address reads back")  # a bug here

    def parts(self, a: Address) -> tuple[str, str, str]:
        """Separate columns: huisletter sometimes lowercase or inside the number."""
        letter = a.huisletter.lower() if self.rng.random() < 0.3 else a.huisletter
        toev = a.toevoeging.lower() if self.rng.random() < 0.3 else a.toevoeging
        if letter and not toev and self.rng.random() < 0.4:
            return f"{a.huisnummer}{letter}", "", ""
        return str(a.huisnummer), letter, toev


def _reads_as(a: Address, pc: str, nr: str, letter: str, toev: str, hyphen: str) -> bool:
    try:
        return parse_address(pc, nr, letter, toev, hyphen_letter=hyphen) == a  # type: ignore[arg-type]
    except InvalidValue:
        return False


def write_exports(city: City, out: Path, invalid_share: float) -> list[InvalidRow]:
    """Write every partner's signal export and the BRP links; return the invalid rows."""
    rng = random.Random(f"exports:{city.seed}")  # noqa: S311 - synthetic data, seeded on purpose
    render = _Render(rng)
    by_kind: dict[str, list[Signal]] = {
        k: [] for k in ("housing", "police", "mental_health", "municipality")
    }
    for s in city.signals:
        by_kind[s.partner_kind].append(s)
    invalid: list[InvalidRow] = []
    writers: dict[str, Callable[..., list[InvalidRow]]] = {
        "housing": _housing,
        "police": _police,
        "mental_health": _mental_health,
        "municipality": _municipality,
    }
    for kind, write in writers.items():
        signals = sorted(by_kind[kind], key=_file_order)
        # At least one invalid row per file when any are asked for, so every reader sees one.
        n_invalid = max(1, round(len(signals) * invalid_share)) if invalid_share > 0 else 0
        (out / kind).mkdir(parents=True, exist_ok=True)
        invalid += write(city, signals, n_invalid, out, render)
    _links(city, out / "municipality" / "links.csv")
    return invalid


def _file_order(s: Signal) -> tuple[int, str]:
    """Debt-help applications first: a standing veto is in place before what it vetoes."""
    return (0 if s.signal_type == "schuldhulp_aanvraag" else 1, s.signal_id)


def _interleave(
    rng: random.Random, valid: list[Row], bad: list[tuple[Row, str]], first_line: int, file: str
) -> tuple[list[Row], list[InvalidRow]]:
    """Put the invalid rows at random places; number the lines as the reader will."""
    rows: list[tuple[Row, str | None]] = [(r, None) for r in valid]
    for row, problem in bad:
        rows.insert(rng.randint(0, len(rows)), (row, problem))
    found = [
        InvalidRow(file, first_line + i, INVALID_CODES[p], p)
        for i, (_, p) in enumerate(rows)
        if p is not None
    ]
    return [r for r, _ in rows], found


def _problems(rng: random.Random, n: int, kinds: tuple[str, ...]) -> list[str]:
    """`n` problems taking turns, from a random start: a few rows already show every kind."""
    start = rng.randrange(len(kinds))
    return [kinds[(start + i) % len(kinds)] for i in range(n)]


def _bad_bsn(bsn: str) -> str:
    """The same number with its check digit off by one: fails the elfproef."""
    return bsn[:8] + str((int(bsn[8]) + 1) % 10)


def _person(city: City, s: Signal) -> Person | None:
    return city.persons.get(s.bsn) if s.bsn else None


# --- housing: woonstichting ----------------------------------------------------------------------

_HOUSING_HEADER = [
    "Dossiernr",
    "Signaal",
    "Datum signaal",
    "Doel",
    "BSN huurder",
    "Postcode",
    "Huisnr",
    "Achternaam",
    "Tussenv.",
    "Voorl.",
    "Telefoon",
    "E-mail",
    "Escalatie",
    "Opmerking",
    "Medewerker",
]


def _housing(
    city: City, signals: list[Signal], n_bad: int, out: Path, r: _Render
) -> list[InvalidRow]:
    rng = r.rng
    rows: list[Row] = []
    tenant_of = _tenants(city)
    for s in signals:
        a = city.households[s.hid or ""].address
        row: Row = dict.fromkeys(_HOUSING_HEADER, "")
        row.update(
            {
                "Dossiernr": s.signal_id,
                "Signaal": HOUSING_CODES[s.signal_type],
                "Datum signaal": s.observed_on.strftime("%d-%m-%Y"),
                "Doel": HOUSING_PURPOSES[s.purpose],
                "Postcode": r.postcode(a.postcode),
                "Huisnr": r.huisnummer(a, "reject"),
                "Escalatie": "N",
                "Medewerker": rng.choice(("KvD", "PB", "MS")),
            }
        )
        tenant = tenant_of(s)
        if tenant is not None:
            row.update(
                {
                    "BSN huurder": r.bsn(tenant.bsn),
                    "Achternaam": tenant.geslachtsnaam,
                    "Tussenv.": tenant.voorvoegsel,
                    "Voorl.": tenant.voorletters,
                    "Telefoon": f"06-{rng.randrange(10**8):08d}",
                }
            )
        rows.append(row)
    bad: list[tuple[Row, str]] = []
    for problem in _problems(
        rng, n_bad, ("bad_bsn", "bad_postcode", "unknown_type", "date_format")
    ):
        row = dict(rng.choice(rows)) if rows else _housing_blank(city)
        row["Dossiernr"] = f"DH-26-X{len(bad):04d}"
        if problem == "bad_bsn":
            bsn = rng.choice(sorted(city.persons))
            row["BSN huurder"] = _bad_bsn(bsn)
            row["Achternaam"] = row["Tussenv."] = row["Voorl."] = row["Telefoon"] = ""
        elif problem == "bad_postcode":
            row["Postcode"] = row["Postcode"][:4] + rng.choice(("SA", "ss", " SD"))
        elif problem == "unknown_type":
            row["Signaal"] = "HA9"
        else:
            row["Datum signaal"] = city.as_of.isoformat()  # ISO in a day-first file
        bad.append((row, problem))
    ordered, found = _interleave(rng, rows, bad, 2, "housing/export.csv")
    text = io.StringIO()
    w = csv_safe.DictWriter(text, _HOUSING_HEADER, delimiter=";", lineterminator="\r\n")
    w.writeheader()
    w.writerows(ordered)
    (out / "housing" / "export.csv").write_bytes(text.getvalue().encode("cp1252"))
    return found


def _housing_blank(city: City) -> Row:
    a = next(iter(city.households.values())).address
    row: Row = dict.fromkeys(_HOUSING_HEADER, "")
    row.update(
        {
            "Signaal": "HA2",
            "Datum signaal": city.as_of.strftime("%d-%m-%Y"),
            "Doel": "VS",
            "Postcode": a.postcode,
            "Huisnr": str(a.huisnummer)
            + a.huisletter
            + (f"-{a.toevoeging}" if a.toevoeging else ""),
            "Escalatie": "N",
        }
    )
    return row


def _tenants(city: City) -> Callable[[Signal], Person | None]:
    """The tenant named on a household row: the first-linked resident who lives there on the
    signal's date and never moved, if cp1252 can hold the name; on every other row (by the
    signal id's last digit, so the file is reproducible), none."""
    residents: dict[str, list[tuple[str, date]]] = {}
    moves: dict[str, int] = {}
    for link in city.links:
        residents.setdefault(link.hid, []).append((link.bsn, link.valid_from))
        moves[link.bsn] = moves.get(link.bsn, 0) + 1

    def tenant(s: Signal) -> Person | None:
        members = sorted(b for b, since in residents.get(s.hid or "", []) if since <= s.observed_on)
        if not members or int(s.signal_id[-1]) % 2 or moves[members[0]] > 1:
            return None
        p = city.persons[members[0]]
        try:
            (p.geslachtsnaam + p.voorvoegsel + p.voorletters).encode("cp1252")
        except UnicodeEncodeError:
            return None
        return p

    return tenant


# --- police: JSON Lines --------------------------------------------------------------------------


def _police(
    city: City, signals: list[Signal], n_bad: int, out: Path, r: _Render
) -> list[InvalidRow]:
    rng = r.rng
    rows: list[Row] = []
    for s in signals:
        row: Row = {
            "registratienummer": s.signal_id,
            "incidentcode": POLICE_CODES[s.signal_type],
            "datum": s.observed_on.isoformat(),
            "bsn_betrokkene": None,
            "postcode": None,
            "huisnummer_volledig": None,
            "herhaling": False,
            "melder": rng.choice((None, "buurman", "melder anoniem")),
            "omschrijving": "...",
        }
        if s.bsn:
            shown = r.bsn(s.bsn)
            row["bsn_betrokkene"] = (
                int(shown) if shown.isdigit() and shown[0] != "0" and rng.random() < 0.2 else shown
            )
        else:
            a = city.households[s.hid or ""].address
            row["postcode"] = r.postcode(a.postcode)
            row["huisnummer_volledig"] = r.huisnummer(a, "huisletter")
        rows.append(row)
    bad: list[tuple[Row, str]] = []
    for problem in _problems(rng, n_bad, ("bad_bsn", "bad_postcode", "unknown_type", "bad_date")):
        row = {
            "registratienummer": f"PL1700-2026-X{len(bad):05d}",
            "incidentcode": "E33",
            "datum": city.as_of.isoformat(),
            "bsn_betrokkene": rng.choice(sorted(city.persons)),
            "postcode": None,
            "huisnummer_volledig": None,
            "herhaling": False,
            "melder": None,
            "omschrijving": "...",
        }
        if problem == "bad_bsn":
            row["bsn_betrokkene"] = _bad_bsn(row["bsn_betrokkene"])
        elif problem == "bad_postcode":
            a = rng.choice(list(city.households.values())).address
            row.update(
                {
                    "incidentcode": "HERH",
                    "bsn_betrokkene": None,
                    "postcode": a.postcode[:4] + "SS",
                    "huisnummer_volledig": str(a.huisnummer),
                }
            )
        elif problem == "unknown_type":
            row["incidentcode"] = "X99"
        else:
            row["datum"] = f"{city.as_of.year}-02-30"
        bad.append((row, problem))
    ordered, found = _interleave(rng, rows, bad, 1, "police/export.jsonl")
    lines = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in ordered)
    (out / "police" / "export.jsonl").write_text(lines, encoding="utf-8")
    return found


# --- mental health: an Excel workbook ------------------------------------------------------------

_GGZ_HEADER = ["signaalnummer", "soort", "datum", "bsn", "geboortedatum", "behandelaar"]


def _mental_health(
    city: City, signals: list[Signal], n_bad: int, out: Path, r: _Render
) -> list[InvalidRow]:
    rng = r.rng
    practitioners = [
        f"{c}. {n}"
        for c, n in (
            ("I", "de Wit"),
            ("M", "van 't Hof"),
            ("S", "Yilmaz"),
            ("A", "Bakker"),
            ("R", "Jansen"),
        )
    ]
    rows: list[Row] = []
    for s in signals:
        person = _person(city, s)
        assert person is not None and s.bsn is not None
        shown = r.bsn(s.bsn)
        rows.append(
            {
                "signaalnummer": s.signal_id,
                "soort": GGZ_CODES[s.signal_type],
                "datum": s.observed_on if rng.random() < 0.7 else s.observed_on.isoformat(),
                "bsn": int(shown)
                if shown.isdigit() and shown[0] != "0" and rng.random() < 0.5
                else shown,
                "geboortedatum": person.geboortedatum.strftime("%d-%m-%Y")
                if rng.random() < 0.8
                else "",
                "behandelaar": rng.choice(practitioners),
            }
        )
    bad: list[tuple[Row, str]] = []
    for problem in _problems(rng, n_bad, ("bad_bsn", "unknown_type", "date_format")):
        row = {
            "signaalnummer": f"GD-2026-X{len(bad):04d}",
            "soort": "CRISIS",
            "datum": city.as_of.isoformat(),
            "bsn": rng.choice(sorted(city.persons)),
            "geboortedatum": "",
            "behandelaar": "",
        }
        if problem == "bad_bsn":
            row["bsn"] = _bad_bsn(row["bsn"])
        elif problem == "unknown_type":
            row["soort"] = "OPNAME"
        else:
            row["datum"] = city.as_of.strftime("%d-%m-%Y")  # day-first where ISO is mapped
        bad.append((row, problem))
    ordered, found = _interleave(rng, rows, bad, 2, "mental_health/export.xlsx")
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Blad1"
    ws.append(_GGZ_HEADER)
    for row in ordered:
        ws.append([row[c] for c in _GGZ_HEADER])
    for cell in ws["C"][1:]:
        if isinstance(cell.value, date):
            cell.number_format = "DD-MM-YYYY"
    fixed = datetime(*_FIXED_ZIP_TIME)
    wb.properties.created = fixed
    wb.properties.modified = fixed
    buffer = io.BytesIO()
    wb.save(buffer)
    (out / "mental_health" / "export.xlsx").write_bytes(_stable_zip(buffer.getvalue()))
    return found


def _stable_zip(data: bytes) -> bytes:
    """The same workbook bytes every run: openpyxl stamps 'now' on the zip entries and as the
    document's modified time on save; both are fixed here."""
    src = zipfile.ZipFile(io.BytesIO(data))
    target = io.BytesIO()
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = _MODIFIED.sub(rb"\g<1>2026-01-01T00:00:00Z\g<2>", content)
            dst.writestr(
                zipfile.ZipInfo(info.filename, _FIXED_ZIP_TIME),
                content,
                compress_type=zipfile.ZIP_DEFLATED,
            )
    return target.getvalue()


# --- municipality: case system export and BRP links ----------------------------------------------

_GM_HEADER = [
    "zaaknummer",
    "signal_type",
    "observed_on",
    "purpose",
    "bsn",
    "postcode",
    "huisnummer",
    "huisletter",
    "huisnummertoevoeging",
    "herhaald",
]


def _municipality(
    city: City, signals: list[Signal], n_bad: int, out: Path, r: _Render
) -> list[InvalidRow]:
    rng = r.rng
    rows: list[Row] = []
    for s in signals:
        row: Row = dict.fromkeys(_GM_HEADER, "")
        row.update(
            {
                "zaaknummer": s.signal_id,
                "signal_type": s.signal_type,
                "observed_on": s.observed_on.isoformat(),
                "purpose": s.purpose,
                "herhaald": "N",
            }
        )
        if s.bsn:
            row["bsn"] = r.bsn(s.bsn)
        else:
            a = city.households[s.hid or ""].address
            nr, letter, toev = r.parts(a)
            pc = r.postcode(a.postcode)
            if not _reads_as(a, pc, nr, letter, toev, "reject"):
                nr, letter, toev = str(a.huisnummer), a.huisletter, a.toevoeging
            row.update(
                {
                    "postcode": pc,
                    "huisnummer": nr,
                    "huisletter": letter,
                    "huisnummertoevoeging": toev,
                }
            )
        rows.append(row)
    bad: list[tuple[Row, str]] = []
    problems = ("bad_bsn", "bad_postcode", "unknown_type", "bad_date", "date_format")
    for problem in _problems(rng, n_bad, problems):
        row = dict.fromkeys(_GM_HEADER, "")
        row.update(
            {
                "zaaknummer": f"Z-2026-X{len(bad):04d}",
                "signal_type": "zorgpremie_achterstand",
                "observed_on": city.as_of.isoformat(),
                "purpose": "wgs-vroegsignalering",
                "bsn": rng.choice(sorted(city.persons)),
                "herhaald": "N",
            }
        )
        if problem == "bad_bsn":
            row["bsn"] = _bad_bsn(row["bsn"])
        elif problem == "bad_postcode":
            a = rng.choice(list(city.households.values())).address
            row.update(
                {
                    "signal_type": "energie_achterstand",
                    "bsn": "",
                    "postcode": a.postcode[:4] + " sd",
                    "huisnummer": str(a.huisnummer),
                }
            )
        elif problem == "unknown_type":
            row["signal_type"] = "schuld_algemeen"
        elif problem == "bad_date":
            row["observed_on"] = f"{city.as_of.year}-02-30"
        else:
            row["observed_on"] = (city.as_of - timedelta(days=3)).strftime("%d/%m/%Y")
        bad.append((row, problem))
    ordered, found = _interleave(rng, rows, bad, 2, "municipality/signals.csv")
    _write_csv(out / "municipality" / "signals.csv", _GM_HEADER, ordered, bom=True)
    return found


def _links(city: City, path: Path) -> None:
    """The BRP extract: Dutch column names, YYYYMMDD dates (links-mapping.yaml)."""
    header = [
        "Burgerservicenummer",
        "Postcode",
        "Huisnummer",
        "Huisletter",
        "Huisnummertoevoeging",
        "Datum aanvang adreshouding",
    ]
    rows = []
    for link in sorted(city.links, key=lambda k: (k.hid, k.valid_from, k.bsn)):
        a = city.households[link.hid].address
        rows.append(
            dict(
                zip(
                    header,
                    (
                        link.bsn,
                        a.postcode,
                        str(a.huisnummer),
                        a.huisletter,
                        a.toevoeging,
                        link.valid_from.strftime("%Y%m%d"),
                    ),
                    strict=True,
                )
            )
        )
    _write_csv(path, header, rows, bom=False)


def _write_csv(path: Path, header: list[str], rows: list[Row], *, bom: bool) -> None:
    text = io.StringIO()
    w = csv_safe.DictWriter(text, header, delimiter=";", lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    path.write_text(("\ufeff" if bom else "") + text.getvalue(), encoding="utf-8")
