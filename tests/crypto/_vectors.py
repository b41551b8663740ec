"""Load the vectors transcribed next to these tests (they run without ../shared)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

VECTORS = Path(__file__).parent / "vectors"


def load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


def hex_list(value: str) -> list[bytes]:
    return [bytes.fromhex(x) for x in value.split(",")]
