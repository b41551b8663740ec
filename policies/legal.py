"""Legal constants the semantic checks rely on, each with its reason.

Kept in one place so a lawyer can review them without reading code.
"""

from __future__ import annotations

STANDING_PURPOSES: frozenset[str] = frozenset({"wgs-vroegsignalering"})
"""Signal purposes whose legal basis provides for standing (continuous, every-household)
processing. Debt early warning under the Wet gemeentelijke schuldhulpverlening (art. 3 lid 3,
art. 5 lid 1, Besluit gemeentelijke schuldhulpverlening art. 2-3) is a statutory standing flow:
creditors send arrears signals and the municipality matches them per household. The Wams purpose
(`wams-gecoordineerde-aanpak`) is case-based: its explanatory memorandum calls it no licence to
link everyone's data in advance ("geen vrijbrief", MvT 36295-3 § 4.3.2). A standing policy may
therefore combine only purposes listed here."""

CASE_BASED_STATUTE_MARKERS: tuple[str, ...] = (
    "wams",
    "wet aanpak meervoudige problematiek",
)
"""Citations containing one of these (case-insensitive) cite the Wams, which does not provide a
basis for standing processing; such a citation may not be marked `standing: true`."""

MIN_DOMAINS = 2
"""Below two distinct life domains a policy is refused: the Wams concerns several related
problems in one household (samenloop), not a single problem."""

MIN_SIGNALS = 2
"""A policy must never fire on a single signal."""
