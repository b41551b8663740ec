"""Locate the published test-vector sets in ../shared/vectors.

The project's own tests carry the vectors they need (transcribed next to them); the full sets
live beside the clone in CI and are optional on a fresh machine, so tests over them skip with a
clear reason when the folder is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def shared_vectors_dir() -> Path | None:
    configured = os.environ.get("SAMENLOOP_SHARED_VECTORS")
    candidate = Path(configured) if configured else REPO_ROOT.parent / "shared" / "vectors"
    return candidate if candidate.is_dir() else None


def require_shared_vectors(subdir: str) -> Path:
    base = shared_vectors_dir()
    if base is None or not (base / subdir).exists():
        pytest.skip(
            f"full vector set ../shared/vectors/{subdir} is not beside this clone "
            "(set SAMENLOOP_SHARED_VECTORS to its folder); the transcribed vectors still ran"
        )
    return base / subdir
