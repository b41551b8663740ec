"""Hypothesis strategies shared by the domain tests: valid BSNs, BAG tuples and their renderings."""

from __future__ import annotations

import string

from hypothesis import strategies as st

from domain.identifiers.address import EXCLUDED_POSTCODE_LETTERS

_WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2)
ROMANS = ["II", "III", "IV", "VI", "VII", "VIII", "IX", "XI", "XII"]
ATTACHED_WORDS = ["BIS", "HS", "BG", "BV", "ROOD", "HUIS", "SOUS", "TER"]
FLOOR_WORDS = {"HOOG", "HG", "ETAGE", "VERDIEPING"}


def bsn_from(n: int) -> str:
    """The first valid BSN at or after the 8-digit head `n` (1 <= n < 10**8), wrapping round."""
    while True:
        head = f"{n:08d}"
        check = sum(w * int(d) for w, d in zip(_WEIGHTS, head, strict=True)) % 11
        if check != 10 and n != 0:
            return head + str(check)
        n = (n + 1) % 10**8


def valid_bsns() -> st.SearchStrategy[str]:
    """9 digits that pass the elfproef (not all zeros)."""
    return st.integers(1, 10**8 - 1).map(bsn_from)


postcodes = st.builds(
    lambda first, rest, letters: f"{first}{rest}{letters}",
    st.sampled_from("123456789"),
    st.text("0123456789", min_size=3, max_size=3),
    st.text(string.ascii_uppercase, min_size=2, max_size=2).filter(
        lambda pair: pair not in EXCLUDED_POSTCODE_LETTERS
    ),
)

huisletters = st.one_of(st.just(""), st.sampled_from(string.ascii_uppercase))
toevoegingen = st.one_of(
    st.just(""),
    st.text(string.ascii_uppercase + string.digits, min_size=1, max_size=4),
    st.sampled_from([*ROMANS, *ATTACHED_WORDS, "2HG", "HG", "HOOG", "A", "A2", "2", "14", "2E"]),
)
bag_tuples = st.tuples(postcodes, st.integers(1, 99999), huisletters, toevoegingen)


def _case(draw: st.DrawFn, text: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.lower() if f else c for c, f in zip(text, flips, strict=True))


@st.composite
def postcode_variants(draw: st.DrawFn, postcode: str) -> str:
    sep = draw(st.sampled_from(["", " ", "  "]))
    pad = draw(st.sampled_from(["", " "]))
    return pad + postcode[:4] + sep + _case(draw, postcode[4:]) + pad


def combined_forms(number: int, letter: str, toev: str) -> list[str]:
    """The one-field renderings of a BAG tuple that docs/addresses.md says mean exactly it."""
    n = str(number)
    forms: list[str] = []
    if not toev:
        forms.append(f"{n}{letter}")
        if letter and letter not in {"H", "I"}:
            forms.append(f"{n} {letter}")
        return forms
    single_letter = len(toev) == 1 and toev.isalpha()
    floor_word = toev in FLOOR_WORDS
    if not floor_word and (letter or not single_letter):
        forms += [f"{n}{letter}-{toev}", f"{n}{letter} - {toev}", f"{n}{letter}\u2013{toev}"]
    if letter and not floor_word:
        forms.append(f"{n}{letter} {toev}")
        if letter not in {"H", "I"}:
            forms += [f"{n} {letter} {toev}", f"{n} {letter}-{toev}"]
    if not letter and not floor_word and not single_letter:
        letter_digits = toev[0].isalpha() and toev[1:].isdigit()
        if not letter_digits:
            forms.append(f"{n} {toev}")
    if not letter and (toev in ATTACHED_WORDS or toev in ROMANS):
        forms.append(f"{n}{toev}")
    if toev.isdigit() and len(toev) <= 2 and toev == str(int(toev)):
        forms += [
            f"{n}{letter}-{toev}hoog",
            f"{n}{letter} {toev} hoog",
            f"{n}{letter} {toev}e hoog",
            f"{n}{letter}-{toev}-hoog",
            f"{n}{letter} {toev} hg",
            f"{n}{letter} {toev}e etage",
        ]
    return forms


@st.composite
def address_renderings(
    draw: st.DrawFn, bag: tuple[str, int, str, str]
) -> tuple[str, str, str, str]:
    """(postcode, huisnummer, huisletter, toevoeging) fields that must parse to `bag`."""
    postcode, number, letter, toev = bag
    pc = draw(postcode_variants(postcode))
    combined = combined_forms(number, letter, toev)
    if draw(st.booleans()) and combined:
        form = draw(st.sampled_from(combined))
        return pc, _case(draw, form), "", ""
    n = draw(st.sampled_from([str(number), f"0{number}", f" {number} "]))
    sep_letter = draw(st.sampled_from([letter, f" {letter} "])) if letter else ""
    sep_toev = ""
    if toev:
        sep_toev = draw(st.sampled_from([toev, f"-{toev}", f" {toev} ", f" - {toev}"]))
    return pc, n, _case(draw, sep_letter), _case(draw, sep_toev)
