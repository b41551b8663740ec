"""Shared cities for the synth tests: generating one costs seconds, so each is made once."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from samenloop.synth import generate_city, write_city

AS_OF = date(2026, 12, 1)


@pytest.fixture(scope="session")
def city_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """600 households with 10 % invalid rows, written to disk."""
    out = tmp_path_factory.mktemp("city")
    write_city(generate_city(600, 11, AS_OF), out, invalid_share=0.1)
    return out


@pytest.fixture(scope="session")
def truth(city_dir: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((city_dir / "truth.json").read_text("utf-8"))
    return doc
