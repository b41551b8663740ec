"""The numbers the security model rests on (ADR 0006, ADR 0010), computed, not assumed.

How many nine-digit strings pass the BSN elfproef decides how big a dictionary attack through
the pseudonymiser is. ADR 0006 first said ~10⁷; the exact count is 90,909,090 (≈ 9.1 × 10⁷).
"""

from __future__ import annotations

from pathlib import Path

from domain.identifiers.bsn import elfproef

WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2, -1)
ROOT = Path(__file__).resolve().parents[2]


def _count_passing(prefix: str = "") -> int:
    """Nine-digit strings starting with `prefix` whose weighted sum is 0 mod 11, by dynamic
    programming over the remainder (independent of `domain.identifiers.bsn`)."""
    start = sum(w * int(d) for w, d in zip(WEIGHTS, prefix, strict=False)) % 11
    counts = {start: 1}
    for weight in WEIGHTS[len(prefix):]:
        nxt: dict[int, int] = {}
        for rest, n in counts.items():
            for digit in range(10):
                key = (rest + weight * digit) % 11
                nxt[key] = nxt.get(key, 0) + n
        counts = nxt
    return counts.get(0, 0)


def test_exactly_90_909_090_nine_digit_numbers_pass_the_elfproef() -> None:
    # 000000000 has sum 0 but is not a BSN.
    assert _count_passing() - 1 == 90_909_090
    assert 9.0e7 < 90_909_090 < 9.2e7  # "about 9.1 × 10⁷", not 10⁷


def test_the_count_agrees_with_the_projects_elfproef_on_a_full_block() -> None:
    """Every number 123400000..123499999 checked one by one against the DP count."""
    by_function = sum(elfproef(f"1234{n:05d}") for n in range(100_000))
    assert by_function == _count_passing("1234")


def test_the_adrs_quote_the_computed_figure() -> None:
    for adr in ("0006-pseudonymiser-quotas-and-key-rotation.md",
                "0010-matcher-operator-separation.md"):
        text = (ROOT / "docs" / "decisions" / adr).read_text(encoding="utf-8")
        assert "90,909,090" in text, adr
