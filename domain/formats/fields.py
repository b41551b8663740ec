"""Field rules shared by the export kinds: signal_id, yes/no values, optional identifiers.

Every function here adds `FieldError`s to a list instead of raising, so one row reports all its
problems at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date

from domain.errors import InvalidValue
from domain.formats.results import FieldError
from domain.identifiers.address import (
    Address,
    HyphenLetter,
    parse_huisletter,
    parse_huisnummer,
    parse_postcode,
    parse_toevoeging,
)
from domain.identifiers.bsn import Bsn, elfproef, parse_bsn
from domain.identifiers.person import parse_date

__all__ = [
    "FALSE_WORDS",
    "TRUE_WORDS",
    "collect_address",
    "collect_bsn",
    "collect_date",
    "parse_signal_id",
]

_SIGNAL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}")
_DIGITS_8_9 = re.compile(r"[0-9]{8,9}")
TRUE_WORDS = frozenset({"true", "1", "ja", "j", "yes", "y", "waar"})
FALSE_WORDS = frozenset({"false", "0", "nee", "n", "no", "onwaar", ""})


def parse_signal_id(raw: str) -> str:
    """The partner's own id of a signal: 1-64 of A-Z a-z 0-9 . _ - : / , starting with a letter
    or digit. A value that is a valid BSN is refused: the id leaves the gateway as it is."""
    text = raw.strip()
    if not text:
        raise InvalidValue("signal_id", "signal_id is empty", code="signal_id.missing")
    if not _SIGNAL_ID.fullmatch(text):
        raise InvalidValue(
            "signal_id",
            "signal_id may hold 1 to 64 letters, digits and . _ - : / (no spaces), starting with "
            "a letter or digit",
            code="signal_id.format",
        )
    if _DIGITS_8_9.fullmatch(text) and elfproef(text.rjust(9, "0")):
        raise InvalidValue(
            "signal_id",
            "signal_id looks like a BSN; use the partner's own case or signal number, since "
            "the signal_id is sent to the matcher as it is",
            code="signal_id.personal",
        )
    return text


def parse_yes_no(raw: str, field: str) -> bool:
    """true/false, ja/nee, j/n, yes/no, y/n, 1/0, waar/onwaar (case ignored); empty is false."""
    key = raw.strip().casefold()
    if key in TRUE_WORDS:
        return True
    if key in FALSE_WORDS:
        return False
    raise InvalidValue(
        field,
        f"{field} must be true or false (also ja/nee, j/n, 1/0, waar/onwaar), or empty",
        code=f"{field}.invalid",
    )


def collect_bsn(raw: str, errors: list[FieldError]) -> Bsn | None:
    if not raw.strip():
        return None
    try:
        return parse_bsn(raw)
    except InvalidValue as exc:
        errors.append(FieldError(exc.field, exc.code, exc.reason))
        return None


def collect_date(
    raw: str, field: str, formats: Mapping[str, str], errors: list[FieldError]
) -> date | None:
    try:
        return parse_date(raw, field, formats.get(field))
    except InvalidValue as exc:
        errors.append(FieldError(exc.field, exc.code, exc.reason))
        return None


def collect_address(
    values: Mapping[str, str], hyphen_letter: HyphenLetter, errors: list[FieldError]
) -> Address | None:
    """The address of a row, or None if all four address fields are empty. Every problem of
    every part is added to `errors` (then None is returned)."""
    postcode = values.get("postcode", "")
    number = values.get("huisnummer", "")
    letter = values.get("huisletter", "")
    toev = values.get("huisnummertoevoeging", "")
    if not (postcode.strip() or number.strip() or letter.strip() or toev.strip()):
        return None
    before = len(errors)
    pc = n = None
    parts: tuple[int, str, str] | None = None
    sep_letter = sep_toev = ""
    if not postcode.strip():
        errors.append(
            FieldError("postcode", "postcode.missing", "the address is incomplete: no postcode")
        )
    else:
        try:
            pc = parse_postcode(postcode)
        except InvalidValue as exc:
            errors.append(FieldError(exc.field, exc.code, exc.reason))
    if not number.strip():
        errors.append(
            FieldError(
                "huisnummer", "huisnummer.missing", "the address is incomplete: no huisnummer"
            )
        )
    else:
        try:
            parts = parse_huisnummer(number, hyphen_letter=hyphen_letter)
        except InvalidValue as exc:
            errors.append(FieldError(exc.field, exc.code, exc.reason))
    try:
        sep_letter = parse_huisletter(letter) if letter else ""
    except InvalidValue as exc:
        errors.append(FieldError(exc.field, exc.code, exc.reason))
    try:
        sep_toev = parse_toevoeging(toev) if toev else ""
    except InvalidValue as exc:
        errors.append(FieldError(exc.field, exc.code, exc.reason))
    if len(errors) > before or pc is None or parts is None:
        return None
    n, in_letter, in_toev = parts
    if (in_letter and sep_letter) or (in_toev and (sep_toev or sep_letter)):
        errors.append(
            FieldError(
                "huisnummer",
                "huisnummer.conflict",
                "the huisnummer field holds a letter or addition that the huisletter or "
                "huisnummertoevoeging column gives too; put each part in one place only",
            )
        )
        return None
    return Address(pc, n, in_letter or sep_letter, in_toev or sep_toev)
