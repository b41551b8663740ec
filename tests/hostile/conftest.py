"""A matcher on loopback over mTLS with some state (a policy, an alert, reveal requests), on
SQLite, shared by the module that fuzzes its RPCs; the dev PKI and the real pseudonymiser are
the matcher tests' own session fixtures."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from services.common.db import create_engine, migrate
from services.matcher.clock import SettableClock, SystemClock
from services.matcher.config import MIGRATIONS
from services.matcher.server import serve
from tests.matcher.client import Pseudonymiser
from tests.matcher.conftest import Harness, pki, pseudonymiser, settings_for  # noqa: F401
from tests.matcher.helpers import Pki, build_matcher_for_test
from tests.matcher.test_reveal import make_alert


@pytest.fixture(scope="module")
def populated_matcher(pki: Pki, pseudonymiser: Pseudonymiser,  # noqa: F811
                      tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    directory = tmp_path_factory.mktemp("hostile-matcher")
    url = f"sqlite:///{directory / 'matcher.sqlite'}"
    migrate(MIGRATIONS, url)
    engine = create_engine(url)
    clock = SettableClock(SystemClock().now())
    trust = directory / "officers.yaml"
    shutil.copy(pki.trust, trust)
    settings = settings_for(pki, pseudonymiser, max_batch_rows=50)
    matcher = build_matcher_for_test(engine, pki, settings, clock, trust)
    server = serve(matcher, bind="127.0.0.1:0", tls=pki.tls("matcher"), max_workers=8,
                   max_message_bytes=256 * 1024)
    harness = Harness(pki, pseudonymiser, matcher, server, clock, trust)
    harness.alert = make_alert(harness)  # type: ignore[attr-defined]
    yield harness
    harness.close()
    server.stop(0)
    engine.dispose()
