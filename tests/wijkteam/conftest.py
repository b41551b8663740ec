"""Fixtures for the inbox tests: the dev PKI and the web app on it (no matcher needed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from services.wijkteam.accounts import AccountStore, LoginThrottle
from services.wijkteam.inbox import Inbox
from services.wijkteam.settings import InboxSettings, load_inbox_settings
from services.wijkteam.web import InboxApp
from tests.matcher.conftest import _quiet_json_logs, matcher, pki, pseudonymiser
from tests.matcher.helpers import Pki
from tests.support.services import DevPki
from tests.wijkteam.helpers import PASSWORD, write_config

# The matcher's end-to-end fixtures: the dev PKI (plus a second team), the real pseudonymiser,
# a matcher server on loopback over mTLS.
__all__ = ["_quiet_json_logs", "matcher", "pki", "pseudonymiser"]


@pytest.fixture(scope="session")
def dev(pki: Pki) -> DevPki:
    """The same development PKI the matcher fixtures use (what `pki dev-setup` writes)."""
    assert pki.dev is not None
    return pki.dev  # type: ignore[no-any-return]


@pytest.fixture
def settings(dev: DevPki, tmp_path: Path) -> InboxSettings:
    return load_inbox_settings(write_config(tmp_path, dev.directory))


class FakeClock:
    """A clock the test moves by hand (no sleeping, no timed assertions)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def web(settings: InboxSettings, clock: FakeClock) -> Iterator[tuple[TestClient, InboxApp]]:
    """The app with one account `u-1`; the matcher address is never called by these tests."""
    accounts = AccountStore(settings.users_file)
    accounts.add("u-1", PASSWORD)
    inbox = Inbox(settings)
    app = InboxApp(settings, inbox, accounts=accounts,
                   throttle=LoginThrottle(3, 300, clock=clock))
    with TestClient(app.app(), base_url="http://127.0.0.1:8470") as client:
        yield client, app
    inbox.close()
