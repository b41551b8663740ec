"""A development deployment written by `samenloop pki dev-setup`, as an operator gets it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from samenloop.cli.main import app


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One `pki dev-setup --dir D` for the session; tests copy it before changing anything."""
    directory = tmp_path_factory.mktemp("deploy") / "dev"
    result = CliRunner().invoke(app, ["pki", "dev-setup", "--dir", str(directory)])
    assert result.exit_code == 0, result.output
    return directory


@pytest.fixture
def deployment(generated: Path, tmp_path: Path) -> Path:
    """A private copy of the generated deployment (modes kept: keys stay 0600)."""
    target = tmp_path / "dev"
    shutil.copytree(generated, target)
    return target


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Commands run in-process configure logging onto the runner's stream, which closes after
    the call; put the suite's configuration back so later tests can still log."""
    import structlog

    saved = structlog.get_config()
    yield
    structlog.configure(**saved)
