"""The burgerservicenummer (BSN): 9 digits passing the elfproef.

`parse_bsn` accepts what spreadsheets and exports do to a BSN and nothing else:

- surrounding and inner spaces (also non-breaking ones) and dots used as group separators
  (`123 456 782`, `1234.56.782`) are removed;
- 8 digits are read as a BSN whose leading zero was dropped by a spreadsheet (`12345672` is
  `012345672`);
- an integer (from a JSON Lines file) is read as its digits.

Everything else is rejected with a reason that never repeats the number: other characters,
scientific notation (`1.23457E+08`: digits were lost), a decimal tail (`12345678.0`: a
spreadsheet number, ambiguous), fewer than 8 or more than 9 digits, all zeros, and a failed
elfproef (9*d1 + 8*d2 + ... + 2*d8 - 1*d9 must be a multiple of 11).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from domain.errors import InvalidValue

__all__ = ["Bsn", "elfproef", "parse_bsn"]

_NINE_DIGITS = re.compile(r"[0-9]{9}")
_SCIENTIFIC = re.compile(r"[0-9](?:[.,][0-9]+)?[eE][+-]?[0-9]+")
_DECIMAL_TAIL = re.compile(r"[0-9]+[.,][0-9]{1,2}")
_SPACES = re.compile(r"[\s\u00a0\u2007\u202f]+")
_WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2, -1)


def elfproef(digits: str) -> bool:
    """True if 9 ASCII digits pass the BSN elfproef (and are not all zeros).

    Requires `digits` to be exactly 9 ASCII digits; anything else returns False.
    """
    if len(digits) != 9 or not _NINE_DIGITS.fullmatch(digits):
        return False
    total = sum(w * (ord(c) - 48) for w, c in zip(_WEIGHTS, digits, strict=True))
    return total % 11 == 0 and digits != "000000000"


@dataclass(frozen=True, slots=True, repr=False)
class Bsn:
    """A valid BSN: `value` is exactly 9 ASCII digits that pass the elfproef.

    Constructing one validates it (raising `InvalidValue`). `repr()` and `str()` do not show the
    number, so a BSN that ends up in a log line or an exception stays hidden; use `.value` for
    the digits themselves (the pseudonymisation input).
    """

    value: str

    def __post_init__(self) -> None:
        if not isinstance(self.value, str) or not _NINE_DIGITS.fullmatch(self.value):
            raise InvalidValue("bsn", "BSN must be exactly 9 digits", code="bsn.length")
        if self.value == "000000000":
            raise InvalidValue("bsn", "BSN cannot be all zeros", code="bsn.zero")
        if not elfproef(self.value):
            raise InvalidValue(
                "bsn",
                "BSN fails the elfproef (check digit); look for a typing error",
                code="bsn.elfproef",
            )

    def __repr__(self) -> str:
        return "Bsn(<hidden>)"

    __str__ = __repr__


def parse_bsn(raw: str | int, *, field: str = "bsn") -> Bsn:
    """Normalise and validate a BSN as exported; raises `InvalidValue` naming `field`."""
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise InvalidValue(field, "BSN must be text or a whole number", code="bsn.type")
    text = str(raw) if isinstance(raw, int) else raw
    # Fast path: the canonical form.
    if len(text) == 9 and _NINE_DIGITS.fullmatch(text):
        return _make(text, field, restored_zero=False)
    text = _SPACES.sub("", text)
    if not text:
        raise InvalidValue(field, "BSN is empty", code="bsn.missing")
    if _SCIENTIFIC.fullmatch(text):
        raise InvalidValue(
            field,
            "BSN is in scientific notation, so digits were lost; "
            "format the column as text in the spreadsheet and export again",
            code="bsn.scientific",
        )
    if _DECIMAL_TAIL.fullmatch(text):
        raise InvalidValue(
            field,
            "BSN looks like a spreadsheet number with decimals; "
            "format the column as text in the spreadsheet and export again",
            code="bsn.decimal",
        )
    digits = text.replace(".", "")
    if not digits.isascii() or not digits.isdigit():
        raise InvalidValue(
            field,
            "BSN may contain only digits (spaces and dots between groups are ignored)",
            code="bsn.characters",
        )
    if len(digits) == 8:
        return _make("0" + digits, field, restored_zero=True)
    if len(digits) != 9:
        raise InvalidValue(
            field,
            f"BSN has {len(digits)} digits; it needs 9 (or 8 if a spreadsheet dropped the "
            "leading zero)",
            code="bsn.length",
        )
    return _make(digits, field, restored_zero=False)


def _make(digits: str, field: str, *, restored_zero: bool) -> Bsn:
    try:
        return Bsn(digits)
    except InvalidValue as exc:
        reason = exc.reason
        if restored_zero and exc.code == "bsn.elfproef":
            reason = (
                "BSN has 8 digits and with the dropped leading zero restored it fails the "
                "elfproef (check digit); look for a typing error"
            )
        raise InvalidValue(field, reason, code=exc.code) from None
