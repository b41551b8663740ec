"""Identity fields for the gateway's identity vault: names, dates, phone, e-mail, contact person.

These fields stay in the partner's gateway (encrypted in its vault) and leave it only sealed to
a wijkteam, when a signed policy allows it. They are never sent to the matcher and are not
pseudonymised, so the rules here aim at clean, comparable values for the people who will read
them, not at matching:

- every text is Unicode NFC, trimmed, with runs of whitespace folded to one space, and control
  characters refused;
- names hold letters (any script), combining marks, spaces, hyphens, apostrophes and periods;
  typographic apostrophes become `'`; case is kept as written (BRP spelling), except the
  voorvoegsel, which is lowercase as in the BRP table of voorvoegsels ("Van der" -> "van der");
- voorletters become `J.P.` form; full first names are reduced to their initials
  ("Jan Pieter" -> "J.P."), "IJ" stays one initial, and Th./Chr./Ph. style initials are kept;
- dates are ISO `YYYY-MM-DD` unless a mapping gives a format; BRP dates with an unknown day or
  month (`00`) are refused: leave the field empty instead;
- telephone numbers become E.164 (`+31612345678`): Dutch national numbers (10 digits starting
  with 0), `0031...`, `+31 (0)...`, and foreign `+...` numbers of 8 to 15 digits;
- e-mail addresses are lowercased and checked for a plausible shape (RFC 5321 lengths; an
  internationalised domain must encode to IDNA).

Reasons never contain the value.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, fields
from datetime import date, datetime

from domain.errors import InvalidValue

__all__ = [
    "MIN_BIRTH_DATE",
    "PersonIdentity",
    "normalise_text",
    "parse_contactpersoon",
    "parse_date",
    "parse_email",
    "parse_geboortedatum",
    "parse_geslachtsnaam",
    "parse_telefoon",
    "parse_voorletters",
    "parse_voorvoegsel",
]

MIN_BIRTH_DATE = date(1880, 1, 1)

_WS = re.compile(r"\s+")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'", "\u02bc": "'"})
_ISO_DATE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[ T]([0-9]{2}):([0-9]{2})(?::[0-9]{2}(?:\.[0-9]+)?)?)?"
)
_ISO_PARTIAL = re.compile(r"[0-9]{4}-(?:00-00|[0-9]{2}-00|00-[0-9]{2})")
_SERIAL = re.compile(r"[0-9]{4,5}(?:\.0+)?")
_PHONE_STRIP = re.compile(r"[\s\-./]+")
_E164 = re.compile(r"\+[1-9][0-9]{7,14}")
_EMAIL_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_DNS_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_ASCII_NAME = re.compile(r"[ .'-]*[A-Za-z][A-Za-z .'-]*")
_INITIAL_TOKEN = re.compile(r"([^\W\d_]+)(\.)?")


def normalise_text(raw: str, field: str, *, max_length: int) -> str:
    """NFC, trimmed, whitespace folded; raises `InvalidValue` for control characters, invalid
    text (lone surrogates) or more than `max_length` characters."""
    if not isinstance(raw, str):
        raise InvalidValue(field, f"{field} must be text", code=f"{field}.type")
    try:
        text = unicodedata.normalize("NFC", raw)
        text.encode("utf-8")
    except UnicodeError:
        raise InvalidValue(
            field, f"{field} is not valid text (check the file encoding)", code=f"{field}.encoding"
        ) from None
    text = _WS.sub(" ", text).strip()
    if not text.isprintable():  # after folding whitespace: exactly the category C characters
        raise InvalidValue(
            field, f"{field} contains a control or invisible character", code=f"{field}.characters"
        )
    if len(text) > max_length:
        raise InvalidValue(
            field,
            f"{field} is longer than {max_length} characters",
            code=f"{field}.length",
        )
    return text


def _name(raw: str, field: str, *, max_length: int) -> str:
    text = unicodedata.normalize(
        "NFC", normalise_text(raw, field, max_length=max_length).translate(_APOSTROPHES)
    )
    if not text:
        raise InvalidValue(field, f"{field} is empty", code=f"{field}.missing")
    if _ASCII_NAME.fullmatch(text):
        return text
    letters = 0
    for c in text:
        cat = unicodedata.category(c)
        if cat[0] == "L":
            letters += 1
        elif cat[0] != "M" and c not in " -'.":
            raise InvalidValue(
                field,
                f"{field} may contain only letters, spaces, hyphens, apostrophes and periods",
                code=f"{field}.characters",
            )
    if not letters:
        raise InvalidValue(field, f"{field} contains no letters", code=f"{field}.characters")
    return text


def parse_geslachtsnaam(raw: str) -> str:
    """Surname without voorvoegsel (BRP: at most 200 characters), spelled as given."""
    return _name(raw, "geslachtsnaam", max_length=200)


def parse_voorvoegsel(raw: str) -> str:
    """`"Van der"` -> `"van der"`; `"\u2019t"` -> `"'t"` (BRP: at most 10 characters)."""
    text = _name(raw, "voorvoegsel", max_length=10)
    if "." in text or "-" in text:
        raise InvalidValue(
            "voorvoegsel",
            "voorvoegsel may contain only letters, spaces and apostrophes",
            code="voorvoegsel.characters",
        )
    lowered = unicodedata.normalize("NFC", text.lower())
    if len(lowered) > 10:
        raise InvalidValue(
            "voorvoegsel", "voorvoegsel is longer than 10 characters", code="voorvoegsel.length"
        )
    return lowered


def parse_contactpersoon(raw: str) -> str:
    """Name of a contact person (for example a GGZ practitioner); a name only, no free text."""
    return _name(raw, "contactpersoon", max_length=200)


def parse_voorletters(raw: str) -> str:
    """`"j.p."`, `"J P"`, `"JP"`, `"Jan Pieter"` -> `"J.P."`; `"Th. J."` -> `"Th.J."`."""
    field = "voorletters"
    text = normalise_text(raw, field, max_length=200).translate(_APOSTROPHES)
    if not text:
        raise InvalidValue(field, "voorletters is empty", code="voorletters.missing")
    if any(not (unicodedata.category(c)[0] in "LM" or c in " .-'") for c in text):
        raise InvalidValue(
            field,
            "voorletters may contain only letters, periods, spaces and hyphens",
            code="voorletters.characters",
        )
    has_dot = "." in text
    initials: list[str] = []
    for m in _INITIAL_TOKEN.finditer(text):
        word, dot = m.group(1), m.group(2)
        if len(word) == 1:
            initials.append(_upper1(word))
        elif word.upper() == "IJ":
            initials.append("IJ")
        elif dot and len(word) <= 3:
            initials.append(_upper1(word[0]) + "".join(map(_lower1, word[1:])))  # Th., Chr.
        elif not has_dot and word.isupper() and len(word) <= 6 and " " not in text:
            initials.extend(word)  # "JP": initials typed without periods
        elif word.upper().startswith("IJ"):
            initials.append("IJ")  # IJsbrand -> IJ.
        else:
            initials.append(_upper1(word[0]))  # a full first name
    if not initials:
        raise InvalidValue(field, "voorletters contains no letters", code="voorletters.characters")
    result = "".join(f"{i}." for i in initials)
    if len(result) > 30:
        raise InvalidValue(field, "voorletters has too many initials", code="voorletters.length")
    return result


def _upper1(c: str) -> str:
    """Uppercase of one character, or the character itself when that would change its length
    (ŉ -> ʼN, ß -> SS), so the result parses back to itself."""
    u = c.upper()
    return u if len(u) == 1 else c


def _lower1(c: str) -> str:
    low = c.lower()
    return low if len(low) == 1 else c


def parse_date(raw: str, field: str, fmt: str | None = None) -> date:
    """An ISO date `YYYY-MM-DD` (a time after it is ignored), or `fmt` (strptime) if given.

    Raises `InvalidValue` naming `field`; says so when the value looks like a spreadsheet date
    serial number or a BRP date with an unknown day or month.
    """
    text = raw.strip() if isinstance(raw, str) else ""
    if not text:
        raise InvalidValue(field, f"{field} is empty", code=f"{field}.missing")
    if fmt is None:
        m = _ISO_DATE.fullmatch(text)
        if m is not None:
            try:
                return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            except ValueError:
                pass
            if _ISO_PARTIAL.fullmatch(text[:10]):
                raise InvalidValue(
                    field,
                    f"{field} has an unknown day or month (00); leave the field empty instead",
                    code=f"{field}.incomplete",
                )
            raise InvalidValue(field, f"{field} is not an existing date", code=f"{field}.invalid")
    else:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            pass
    if _SERIAL.fullmatch(text):
        raise InvalidValue(
            field,
            f"{field} looks like a spreadsheet date number; format the column as a date "
            "(YYYY-MM-DD) and export again",
            code=f"{field}.format",
        )
    expected = "YYYY-MM-DD" if fmt is None else f"the mapping's format {fmt}"
    raise InvalidValue(
        field, f"{field} is not a date in the form {expected}", code=f"{field}.format"
    )


def parse_geboortedatum(raw: str, fmt: str | None = None, *, today: date | None = None) -> date:
    """Date of birth: a real date, not in the future, not before 1880."""
    born = parse_date(raw, "geboortedatum", fmt)
    if born > (today or date.today()):
        raise InvalidValue(
            "geboortedatum", "geboortedatum lies in the future", code="geboortedatum.future"
        )
    if born < MIN_BIRTH_DATE:
        raise InvalidValue(
            "geboortedatum", "geboortedatum lies before 1880", code="geboortedatum.range"
        )
    return born


def parse_telefoon(raw: str) -> str:
    """A telephone number in E.164 form: `"06-12345678"` -> `"+31612345678"`."""
    field = "telefoon"
    text = normalise_text(raw, field, max_length=40)
    if not text:
        raise InvalidValue(field, "telefoon is empty", code="telefoon.missing")
    text = text.replace("(0)", "")
    text = _PHONE_STRIP.sub("", text).replace("(", "").replace(")", "")
    if text.startswith("00"):
        text = "+" + text[2:]
    if not text.isascii() or not (text[1:] if text.startswith("+") else text).isdigit():
        raise InvalidValue(
            field,
            "telefoon may contain only digits, a leading +, spaces, hyphens and parentheses",
            code="telefoon.characters",
        )
    if text.startswith("+310") and len(text) == 13:
        text = "+31" + text[4:]  # "+31 06 ..." - the trunk 0 written after the country code
    if text.startswith("0"):
        if len(text) != 10:
            raise InvalidValue(
                field,
                "a Dutch telephone number has 10 digits starting with 0",
                code="telefoon.length",
            )
        text = "+31" + text[1:]
    if not text.startswith("+"):
        raise InvalidValue(
            field,
            "telefoon must start with 0 (Dutch number) or + / 00 (country code)",
            code="telefoon.format",
        )
    if text.startswith("+31") and len(text) != 12:
        raise InvalidValue(
            field, "a Dutch telephone number has 9 digits after +31", code="telefoon.length"
        )
    if not _E164.fullmatch(text):
        raise InvalidValue(
            field,
            "an international telephone number has 8 to 15 digits after the +",
            code="telefoon.length",
        )
    return text


def parse_email(raw: str) -> str:
    """An e-mail address, lowercased, with a plausible local part and domain."""
    field = "email"
    text = unicodedata.normalize("NFC", normalise_text(raw, field, max_length=254).lower())
    if not text:
        raise InvalidValue(field, "email is empty", code="email.missing")
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain:
        raise InvalidValue(field, "email must look like name@example.nl", code="email.format")
    if len(local) > 64 or not _EMAIL_LOCAL.fullmatch(local):
        raise InvalidValue(
            field,
            "the part of the email before the @ is not valid (spaces, two periods in a row, or "
            "a character that is not allowed)",
            code="email.format",
        )
    try:
        ascii_domain = domain.encode("idna").decode("ascii") if not domain.isascii() else domain
    except UnicodeError:
        raise InvalidValue(
            field, "the domain of the email is not valid", code="email.domain"
        ) from None
    labels = ascii_domain.split(".")
    if (
        len(labels) < 2
        or not all(_DNS_LABEL.fullmatch(label) for label in labels)
        or not (labels[-1].isalpha() or labels[-1].startswith("xn--"))
        or len(labels[-1]) < 2
    ):
        raise InvalidValue(
            field, "the domain of the email is not valid (like example.nl)", code="email.domain"
        )
    return text


@dataclass(frozen=True, slots=True, repr=False)
class PersonIdentity:
    """The identity fields of one row, all optional, already normalised.

    Kept in the gateway's vault; never sent to the matcher. `repr()` shows only which fields
    are present.
    """

    geslachtsnaam: str | None = None
    voorvoegsel: str | None = None
    voorletters: str | None = None
    geboortedatum: date | None = None
    telefoon: str | None = None
    email: str | None = None
    contactpersoon: str | None = None

    def present(self) -> tuple[str, ...]:
        """Names of the fields that hold a value."""
        return tuple(f.name for f in fields(self) if getattr(self, f.name) is not None)

    def is_empty(self) -> bool:
        return not self.present()

    def as_strings(self) -> dict[str, str]:
        """Field -> canonical text (ISO date); empty fields as ''."""
        out: dict[str, str] = {}
        for name in _IDENTITY_FIELDS:
            value = getattr(self, name)
            out[name] = (
                ""
                if value is None
                else value.isoformat()
                if isinstance(value, date)
                else str(value)
            )
        return out

    def __repr__(self) -> str:
        return f"PersonIdentity(<hidden: {', '.join(self.present()) or 'empty'}>)"

    __str__ = __repr__


_IDENTITY_FIELDS = tuple(f.name for f in fields(PersonIdentity))
