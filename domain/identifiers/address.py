"""Dutch addresses as BAG parts, and the canonical string households are pseudonymised by.

An address (nummeraanduiding in the BAG, NEN 5825 notation) is:

- postcode: 4 digits not starting with 0, then 2 capital letters other than SA, SD and SS (never
  issued); written without a space;
- huisnummer: a whole number from 1 to 99999;
- huisletter: one capital letter A-Z, or empty;
- huisnummertoevoeging: 1 to 4 capital letters and digits, or empty.

`Address.canonical()` is `POSTCODE|HUISNUMMER|HUISLETTER|TOEVOEGING` with empty parts empty, e.g.
`3072AB|12|A|2` or `1011AB|5||` - the input of the household pseudonym. Two different BAG
tuples always give different strings (`|` never occurs in a part) and one tuple always the same.

`parse_address` accepts the combined forms partners put in one huisnummer field ("12A",
"12 a", "12A-2", "12-2", "12 bis", "12 II", "12-2hoog", "12 hs", "12 rood") and the separate
fields. Every rule, with 40+ real inputs and their results, is in docs/addresses.md (and tested
from there). The principles:

- NEN 5825 notation is followed: a letter written against the number is the huisletter ("12A"),
  what follows a hyphen is the toevoeging ("12-2", "12A-2", "12-AB"). A space works like the
  hyphen, except that one letter alone after a space is the huisletter ("12 a").
- A single letter after a hyphen ("12-A") is ambiguous: people mean the huisletter, NEN 5825
  means a toevoeging. It is rejected unless the partner's mapping declares which one its system
  means (`hyphen_letter: huisletter | toevoeging`).
- A lone "H" or "I" after a space is rejected too: Amsterdam writes "huis" and the first floor
  that way as a toevoeging, elsewhere it is a huisletter.
- Roman numerals are kept as written (II stays II, never 2: they can be different BAG objects).
- A floor phrase - a number followed by "hoog", "hg", "etage" or "verdieping", optionally with
  an ordinal (2e, 2de, 1ste) - becomes the number alone: "12-2hoog" and "12 2e hoog" are "12-2".
- Words are kept as written, uppercased, when they fit in 4 characters (BIS, HS, BG, BV, ROOD,
  HUIS, SOUS); longer ones (ZWART, BOVEN) are rejected, never abbreviated.
- Anything else that cannot be split one way only is rejected with the reason, never guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from domain.errors import InvalidValue

__all__ = [
    "EXCLUDED_POSTCODE_LETTERS",
    "Address",
    "HyphenLetter",
    "parse_address",
    "parse_huisletter",
    "parse_huisnummer",
    "parse_postcode",
    "parse_toevoeging",
]

HyphenLetter = Literal["reject", "huisletter", "toevoeging"]
"""What a single letter after a hyphen ("12-A") means; a partner mapping can choose."""

EXCLUDED_POSTCODE_LETTERS = frozenset({"SA", "SD", "SS"})

_POSTCODE_CANON = re.compile(r"[1-9][0-9]{3}[A-Z]{2}")
_POSTCODE_LOOSE = re.compile(r"\s*([0-9]{4})\s*([A-Za-z]{2})\s*")
_DIGITS = re.compile(r"[0-9]{1,5}")
_LETTER = re.compile(r"[A-Z]")
_TOEVOEGING = re.compile(r"[A-Z0-9]{1,4}")
_HYPHENS = re.compile(r"\s*[-\u2010\u2011\u2012\u2013\u2014]\s*")
_SPACE_RUN = re.compile(r"[\s\u00a0\u202f]+")
_NUMBER_AND_REST = re.compile(r"([0-9]+)(.*)")
_REST_CHARS = re.compile(r"[A-Z0-9 -]*")
_GROUPS = re.compile(r"([ -]?)([A-Z0-9]+)")
_FLOOR_WORDS = ("VERDIEPING", "ETAGE", "HOOG", "HG")
_ORDINAL = re.compile(r"([0-9]{1,2})(?:STE|DE|E)?")
_FLOOR_JOINED = re.compile(r"([0-9]{1,2})(?:STE|DE|E)?(?:VERDIEPING|ETAGE|HOOG|HG)")
_LETTER_DIGITS = re.compile(r"[A-Z][0-9]+")
_ROMAN = re.compile(r"(?=[IVXL]{2,4}$)L?X{0,3}(?:IX|IV|V?I{0,3})")
_ATTACHED_WORDS = frozenset({"BIS", "HS", "BG", "BV", "ROOD", "HUIS", "SOUS", "TER"})
_AMBIGUOUS_SPACED_LETTERS = frozenset({"H", "I"})


@dataclass(frozen=True, slots=True, repr=False)
class Address:
    """A validated address in canonical BAG parts (see the module docstring).

    Constructing one validates the parts (raising `InvalidValue`); use `parse_address` to turn
    exported text into one. `repr()` hides the parts so an address never lands in a log by
    accident; `canonical()` and `display()` give them on purpose.
    """

    postcode: str
    huisnummer: int
    huisletter: str = ""
    toevoeging: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.postcode, str) or not _POSTCODE_CANON.fullmatch(self.postcode):
            raise InvalidValue(
                "postcode",
                "postcode must be 4 digits and 2 capital letters",
                code="postcode.format",
            )
        if self.postcode[4:] in EXCLUDED_POSTCODE_LETTERS:
            raise InvalidValue("postcode", _EXCLUDED_REASON, code="postcode.letters")
        if (
            not isinstance(self.huisnummer, int)
            or isinstance(self.huisnummer, bool)
            or not 1 <= self.huisnummer <= 99999
        ):
            raise InvalidValue("huisnummer", _RANGE_REASON, code="huisnummer.range")
        if self.huisletter and not (
            isinstance(self.huisletter, str) and _LETTER.fullmatch(self.huisletter)
        ):
            raise InvalidValue(
                "huisletter", "huisletter must be one capital letter A-Z", code="huisletter.format"
            )
        if self.toevoeging and not (
            isinstance(self.toevoeging, str) and _TOEVOEGING.fullmatch(self.toevoeging)
        ):
            raise InvalidValue(
                "huisnummertoevoeging",
                "huisnummertoevoeging must be 1 to 4 capital letters or digits",
                code="huisnummertoevoeging.format",
            )

    def canonical(self) -> str:
        """`POSTCODE|HUISNUMMER|HUISLETTER|TOEVOEGING`, e.g. `3072AB|12|A|2`: the household
        pseudonymisation input. Stable: changing it changes every household pseudonym."""
        return f"{self.postcode}|{self.huisnummer}|{self.huisletter}|{self.toevoeging}"

    @classmethod
    def from_canonical(cls, text: str) -> Address:
        """The inverse of `canonical()`; raises `InvalidValue` for anything else."""
        parts = text.split("|") if isinstance(text, str) else []
        if len(parts) != 4 or not _DIGITS.fullmatch(parts[1]) or parts[1].startswith("0"):
            raise InvalidValue(
                "address", "not a canonical address string", code="address.canonical"
            )
        return cls(parts[0], int(parts[1]), parts[2], parts[3])

    def huisnummer_display(self) -> str:
        """NEN 5825 notation of the number part: `12`, `12A`, `12-2`, `12A-2`."""
        tail = f"-{self.toevoeging}" if self.toevoeging else ""
        return f"{self.huisnummer}{self.huisletter}{tail}"

    def display(self) -> str:
        """`3072 AB 12A-2`, for people (never for logs)."""
        return f"{self.postcode[:4]} {self.postcode[4:]} {self.huisnummer_display()}"

    def __repr__(self) -> str:
        return "Address(<hidden>)"

    __str__ = __repr__


_EXCLUDED_REASON = "postcode letters SA, SD and SS are never used in Dutch postcodes"
_RANGE_REASON = "huisnummer must be a whole number from 1 to 99999"


def parse_postcode(raw: str) -> str:
    """`"3072 ab"` -> `"3072AB"`; raises `InvalidValue` for anything that is not a postcode."""
    if len(raw) == 6 and _POSTCODE_CANON.fullmatch(raw):
        if raw[4:] in EXCLUDED_POSTCODE_LETTERS:
            raise InvalidValue("postcode", _EXCLUDED_REASON, code="postcode.letters")
        return raw
    m = _POSTCODE_LOOSE.fullmatch(raw)
    if m is None:
        if not raw.strip():
            raise InvalidValue("postcode", "postcode is empty", code="postcode.missing")
        raise InvalidValue(
            "postcode",
            "postcode must be 4 digits and 2 letters, like 1234 AB",
            code="postcode.format",
        )
    digits, letters = m.group(1), m.group(2).upper()
    if digits[0] == "0":
        raise InvalidValue("postcode", "postcode cannot start with 0", code="postcode.format")
    if letters in EXCLUDED_POSTCODE_LETTERS:
        raise InvalidValue("postcode", _EXCLUDED_REASON, code="postcode.letters")
    return digits + letters


def parse_huisletter(raw: str) -> str:
    """A separate huisletter field: `" a "` -> `"A"`, `""` -> `""`."""
    text = raw.strip().upper()
    if text and not (len(text) == 1 and _LETTER.fullmatch(text)):
        raise InvalidValue(
            "huisletter",
            "huisletter must be one letter A-Z (put other additions in huisnummertoevoeging)",
            code="huisletter.format",
        )
    return text


def parse_toevoeging(raw: str) -> str:
    """A separate huisnummertoevoeging field: `"2 hoog"` -> `"2"`, `"bis"` -> `"BIS"`, `"-2"` ->
    `"2"`, `""` -> `""`."""
    text = _normalise(raw, "huisnummertoevoeging")
    if text.startswith("-"):
        text = text[1:]
    if not text:
        return ""
    if _TOEVOEGING.fullmatch(text):
        return text  # a valid BAG value is taken as written, floor words included
    if not _REST_CHARS.fullmatch(text):
        raise InvalidValue(
            "huisnummertoevoeging",
            "huisnummertoevoeging may contain only letters and digits",
            code="huisnummertoevoeging.characters",
        )
    groups = _groups("-" + text, "huisnummertoevoeging")
    groups = _merge_floor(groups, "huisnummertoevoeging")
    if len(groups) != 1:
        raise InvalidValue(
            "huisnummertoevoeging",
            "huisnummertoevoeging must be one part of at most 4 letters or digits, without "
            "spaces or hyphens inside",
            code="huisnummertoevoeging.format",
        )
    return _check_toevoeging(groups[0][1], "huisnummertoevoeging")


def parse_huisnummer(
    raw: str | int, *, hyphen_letter: HyphenLetter = "reject"
) -> tuple[int, str, str]:
    """A huisnummer field, possibly with letter and addition in it: `"12A-2"` -> `(12, "A", "2")`.

    Raises `InvalidValue` with field `huisnummer` for anything it cannot split one way only.
    """
    if isinstance(raw, bool):
        raise InvalidValue(
            "huisnummer", "huisnummer must be text or a number", code="huisnummer.type"
        )
    if isinstance(raw, int):
        raw = str(raw)
    if len(raw) <= 5 and _DIGITS.fullmatch(raw) and raw[0] != "0":
        return int(raw), "", ""
    text = _normalise(raw, "huisnummer")
    if not text:
        raise InvalidValue("huisnummer", "huisnummer is empty", code="huisnummer.missing")
    m = _NUMBER_AND_REST.fullmatch(text)
    if m is None:
        raise InvalidValue(
            "huisnummer", "huisnummer must start with the number", code="huisnummer.format"
        )
    number = _number(m.group(1))
    rest = m.group(2)
    if not rest:
        return number, "", ""
    if not _REST_CHARS.fullmatch(rest):
        raise InvalidValue(
            "huisnummer",
            "huisnummer may contain only the number, letters, digits, spaces and hyphens "
            "(no '/', '.', ',' or ranges)",
            code="huisnummer.characters",
        )
    groups = _merge_floor(_groups(rest, "huisnummer"), "huisnummer")
    letter, groups = _take_letter(groups, hyphen_letter)
    if not groups:
        return number, letter, ""
    if len(groups) > 1:
        raise InvalidValue(
            "huisnummer",
            "huisnummer has more than one addition after the number and letter; "
            "a huisnummertoevoeging is one part of at most 4 letters or digits",
            code="huisnummer.ambiguous",
        )
    sep, text = groups[0]
    if sep == "":
        raise InvalidValue(
            "huisnummer",
            "letters and digits written against the number cannot be split one way only "
            "(write the addition after a hyphen, like 12A-2, or use the separate columns)",
            code="huisnummer.ambiguous",
        )
    if sep == " " and not letter and _LETTER_DIGITS.fullmatch(text):
        raise InvalidValue(
            "huisnummer",
            "a letter followed by digits after a space is ambiguous (huisletter and "
            "addition, or one addition); write 12A-2 or 12-A2, or use the separate columns",
            code="huisnummer.ambiguous",
        )
    return number, letter, _check_toevoeging(text, "huisnummer")


def parse_address(
    postcode: str,
    huisnummer: str | int,
    huisletter: str | None = None,
    toevoeging: str | None = None,
    *,
    hyphen_letter: HyphenLetter = "reject",
) -> Address:
    """An `Address` from the exported fields; letter and addition may sit in `huisnummer`.

    Raises `InvalidValue` naming the field (`postcode`, `huisnummer`, `huisletter`,
    `huisnummertoevoeging`) and the reason; never the value.
    """
    pc = parse_postcode(postcode)
    number, letter, extra = parse_huisnummer(huisnummer, hyphen_letter=hyphen_letter)
    sep_letter = parse_huisletter(huisletter) if huisletter else ""
    sep_toev = parse_toevoeging(toevoeging) if toevoeging else ""
    if (letter and sep_letter) or (extra and (sep_toev or sep_letter)):
        raise InvalidValue(
            "huisnummer",
            "the huisnummer field holds a letter or addition that the huisletter or "
            "huisnummertoevoeging column gives too; put each part in one place only",
            code="huisnummer.conflict",
        )
    return Address(pc, number, letter or sep_letter, extra or sep_toev)


# --- helpers -------------------------------------------------------------------------------------


def _normalise(raw: str, field: str) -> str:
    if not isinstance(raw, str):
        raise InvalidValue(field, f"{field} must be text", code=f"{field}.type")
    text = _SPACE_RUN.sub(" ", raw).strip()
    text = _HYPHENS.sub("-", text).upper()
    if not text.isascii():
        raise InvalidValue(
            field,
            f"{field} contains a character outside A-Z, 0-9, space and hyphen",
            code=f"{field}.characters",
        )
    return text


def _number(digits: str) -> int:
    stripped = digits.lstrip("0")
    if not stripped or len(stripped) > 5:
        raise InvalidValue("huisnummer", _RANGE_REASON, code="huisnummer.range")
    return int(stripped)


def _groups(rest: str, field: str) -> list[tuple[str, str]]:
    """Split `rest` into (separator, text) groups; the first separator may be ''."""
    groups: list[tuple[str, str]] = []
    pos = 0
    for m in _GROUPS.finditer(rest):
        if m.start() != pos or (groups and m.group(1) == ""):
            break
        groups.append((m.group(1), m.group(2)))
        pos = m.end()
    if pos != len(rest):
        raise InvalidValue(
            field,
            f"{field} has two separators in a row or ends with a separator",
            code=f"{field}.format",
        )
    return groups


def _merge_floor(groups: list[tuple[str, str]], field: str) -> list[tuple[str, str]]:
    """Replace a trailing floor phrase ("2 hoog", "2e-hoog", "2HG") by its number."""
    if not groups:
        return groups
    sep, last = groups[-1]
    m = _FLOOR_JOINED.fullmatch(last) if len(last) > 4 else None
    if m is not None:
        return [*groups[:-1], (sep, str(int(m.group(1))))]
    if last in _FLOOR_WORDS:
        if len(groups) >= 2:
            prev_sep, prev = groups[-2]
            om = _ORDINAL.fullmatch(prev)
            if om is not None and prev_sep != "":
                return [*groups[:-2], (prev_sep, str(int(om.group(1))))]
        raise InvalidValue(
            field,
            f"{field} has a floor word (hoog, etage, verdieping) without a floor number before "
            "it, or with other text in between",
            code=f"{field}.floor",
        )
    for _, text in groups[:-1]:
        if text in _FLOOR_WORDS or (len(text) > 4 and _FLOOR_JOINED.fullmatch(text)):
            raise InvalidValue(
                field,
                f"{field} has a floor phrase that is not at the end",
                code=f"{field}.floor",
            )
    return groups


def _take_letter(
    groups: list[tuple[str, str]], hyphen_letter: HyphenLetter
) -> tuple[str, list[tuple[str, str]]]:
    """Take the huisletter off the front of the groups after the number, if there is one."""
    sep, text = groups[0]
    if len(text) != 1 or not text.isalpha():
        if sep != "":
            return "", groups
        if text in _ATTACHED_WORDS or _ROMAN.fullmatch(text):
            return "", [(" ", text), *groups[1:]]
        raise InvalidValue(
            "huisnummer",
            "letters and digits written against the number cannot be split one way only "
            "(write 12A, 12A-2, 12-AB or use the separate columns)",
            code="huisnummer.ambiguous",
        )
    if sep == "":
        return text, groups[1:]
    if sep == " ":
        if text in _AMBIGUOUS_SPACED_LETTERS:
            raise InvalidValue(
                "huisnummer",
                "a lone H or I after a space is ambiguous (huisletter, or 'huis' / first floor "
                "as huisnummertoevoeging); use the huisletter or huisnummertoevoeging column",
                code="huisnummer.ambiguous",
            )
        return text, groups[1:]
    # sep == "-": NEN 5825 says toevoeging, people usually mean huisletter.
    if hyphen_letter == "huisletter":
        return text, groups[1:]
    if hyphen_letter == "toevoeging" and len(groups) == 1:
        return "", groups
    raise InvalidValue(
        "huisnummer",
        "one letter after a hyphen is ambiguous (huisletter as in 12A, or huisnummertoevoeging "
        "as in NEN 5825 notation 12-A); use the huisletter or huisnummertoevoeging column, or "
        "set address.hyphen_letter in the mapping",
        code="huisnummer.ambiguous",
    )


def _check_toevoeging(text: str, field: str) -> str:
    if len(text) > 4:
        raise InvalidValue(
            field,
            "huisnummertoevoeging has more than 4 characters (words like 'zwart' or 'boven' are "
            "not abbreviated automatically: use the BAG value)",
            code=f"{field}.toevoeging_length",
        )
    return text
