"""Refuse the plain YAML scalars that YAML 1.1 and YAML 1.2 read differently, or surprisingly.

PyYAML follows YAML 1.1: `window_days: 060` is the octal number 48, `1:30` is the base-60
number 90, `0x3C` is 60, `1_000` is 1000 and `no` is the boolean false. YAML 1.2 (core
schema), which most editors and other tools follow, reads `060` as 60, `1:30` and `1_000` as
text, and `no` as text. An officer would then sign a number other than the one they read. So a
policy allows numbers only as plain decimal integers (`60`, `-3`, `0`), booleans only as
`true` / `false` (any of YAML's three casings), and refuses every other plain scalar that either
version reads as a number or a boolean, saying how each reads it and what to write instead.
Quoted scalars are text in both versions and are never refused.

After this check, every accepted plain scalar has the same value under YAML 1.1 and YAML 1.2
core, so the document is what the officer saw whichever parser they trust.
"""

from __future__ import annotations

import re
from typing import Final

# YAML 1.2.2 core schema, section 10.3.2 (what a YAML 1.2 reader makes of a plain scalar).
_Y12_INT10: Final = re.compile(r"[-+]?[0-9]+")
_Y12_INT8: Final = re.compile(r"0o[0-7]+")
_Y12_INT16: Final = re.compile(r"0x[0-9a-fA-F]+")
_Y12_FLOAT: Final = re.compile(
    r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
)
_Y12_BOOL: Final = frozenset({"true", "True", "TRUE", "false", "False", "FALSE"})

# YAML 1.1 as PyYAML resolves it (yaml/resolver.py), the reader the project uses.
_Y11_INT: Final = re.compile(
    r"[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+"
    r"|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+"
)
_Y11_FLOAT: Final = re.compile(
    r"[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?"
    r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
)
_Y11_BOOL: Final = frozenset(
    {"yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF"} | _Y12_BOOL
)

# What a policy accepts: the forms both versions read the same way.
_DECIMAL: Final = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")


def _looks_numeric(text: str) -> bool:
    return any(
        p.fullmatch(text) for p in (_Y11_INT, _Y11_FLOAT, _Y12_INT10, _Y12_INT8, _Y12_INT16)
    ) or bool(_Y12_FLOAT.fullmatch(text))


def _yaml11_int(text: str) -> int | None:
    """The value PyYAML (YAML 1.1) gives an int-like plain scalar; None if it is not one."""
    if not _Y11_INT.fullmatch(text):
        return None
    sign, body = (-1, text[1:]) if text[0] == "-" else (1, text.lstrip("+"))
    body = body.replace("_", "")
    if ":" in body:
        value = 0
        for part in body.split(":"):
            value = value * 60 + int(part)
        return sign * value
    if body.startswith("0b"):
        return sign * int(body[2:], 2)
    if body.startswith("0x"):
        return sign * int(body[2:], 16)
    if body != "0" and body.startswith("0"):
        return sign * int(body, 8)
    return sign * int(body)


def plain_scalar_problem(text: str) -> str | None:
    """Why the plain (unquoted) scalar `text` may not appear in a policy; None if it may.

    The message names the value as both YAML versions read it and the fix, for one line.
    """
    if text in _Y11_BOOL and text not in _Y12_BOOL:
        meaning = "true" if text.lower() in {"yes", "on"} else "false"
        return (
            f"`{text}` is the boolean {meaning} in YAML 1.1 but the text {text!r} in YAML 1.2; "
            f'write {meaning} for the boolean, or quote it ("{text}") if it is text'
        )
    if not _looks_numeric(text) or _DECIMAL.fullmatch(text):
        return None
    old = _yaml11_int(text)
    digits = text.lstrip("+-")
    if ":" in text:
        if old is None:
            return (
                f"`{text}` is a base-60 (sexagesimal) number in YAML 1.1 and text in YAML 1.2; "
                "write a whole number in plain digits, or quote it if it is text"
            )
        return (
            f"`{text}` is a base-60 (sexagesimal) number: YAML 1.1 reads it as {old}, YAML 1.2 "
            f"as text; write {old} if that is the number you mean, or quote it if it is text"
        )
    if _Y12_INT10.fullmatch(text) and "_" not in text:
        # A decimal with leading zeros: octal in YAML 1.1 when all digits are 0-7.
        decimal = int(text, 10)
        reading = f"the octal number {old}" if old is not None else "text (8 and 9 are no octal)"
        return (
            f"`{text}` has a leading zero: YAML 1.1 reads it as {reading}, YAML 1.2 as "
            f'{decimal}; write {decimal}, or quote it ("{text}") if it is text'
        )
    if "_" in text:
        return (
            f"`{text}` uses _ as a digit separator, which YAML 1.1 allows and YAML 1.2 reads as "
            f"text; write {text.replace('_', '')} without separators"
        )
    for prefix, base, name in (("0x", 16, "hexadecimal"), ("0o", 8, "octal"), ("0b", 2, "binary")):
        if digits.startswith(prefix):
            try:
                value = int(text.replace(prefix, "", 1), base)
            except ValueError:
                value = None
            fix = f"write {value}" if value is not None else "write the number in decimal"
            return (
                f"`{text}` is a {name} number, which YAML 1.1 and YAML 1.2 do not read alike; "
                f"{fix}, or quote it if it is text"
            )
    return (
        f"`{text}` is not a whole number in plain digits, the only number form a policy uses "
        "(fractions, exponents, .inf and .nan read differently in YAML 1.1 and 1.2); write "
        "e.g. 60, or quote it if it is text"
    )
