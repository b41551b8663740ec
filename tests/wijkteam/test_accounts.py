"""Local accounts: argon2id hashes in a private file, and login throttling."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from services.wijkteam.accounts import AccountError, AccountStore, LoginThrottle
from tests.wijkteam.conftest import FakeClock
from tests.wijkteam.helpers import PASSWORD


def test_passwords_are_stored_as_argon2id_hashes_in_a_private_file(tmp_path: Path) -> None:
    store = AccountStore(tmp_path / "users.json")
    store.add("u-1", PASSWORD)
    raw = (tmp_path / "users.json").read_text()
    assert PASSWORD not in raw
    stored = json.loads(raw)["users"]["u-1"]["hash"]
    # The PHC string names the algorithm and the RFC 9106 low-memory parameters.
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    # An independent argon2 verifier accepts it (the oracle is argon2-cffi's own verify).
    assert PasswordHasher().verify(stored, PASSWORD)
    assert os.stat(tmp_path / "users.json").st_mode & 0o777 == 0o600
    assert store.verify("u-1", PASSWORD)
    assert not store.verify("u-1", PASSWORD + "x")
    assert not store.verify("u-2", PASSWORD)  # unknown account
    # An unknown account is checked against a dummy hash for equal timing; the dummy's own
    # password must not open it.
    assert not store.verify("u-2", "samenloop: no such account")


def test_accounts_are_team_local_ids_with_real_passwords(tmp_path: Path) -> None:
    store = AccountStore(tmp_path / "users.json")
    with pytest.raises(AccountError, match="team-local user id"):
        store.add("Jan de Vries", PASSWORD)
    with pytest.raises(AccountError, match="at least 12"):
        store.add("u-1", "kort")
    store.add("u-1", PASSWORD)
    with pytest.raises(AccountError, match="already exists"):
        store.add("u-1", PASSWORD)
    store.add("u-1", "another long password", replace=True)
    assert store.verify("u-1", "another long password") and not store.verify("u-1", PASSWORD)
    store.remove("u-1")
    assert store.users() == []


def test_an_accounts_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    store = AccountStore(tmp_path / "users.json")
    store.add("u-1", PASSWORD)
    os.chmod(tmp_path / "users.json", 0o644)
    with pytest.raises(AccountError, match="chmod 600"):
        store.verify("u-1", PASSWORD)


def test_throttle_blocks_an_account_and_an_address_after_repeated_failures() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(max_failures=3, lockout_seconds=300, clock=clock)
    for _ in range(2):
        throttle.failed("u-1", "10.0.0.1")
    assert not throttle.blocked("u-1", "10.0.0.1")
    throttle.failed("u-1", "10.0.0.1")
    assert throttle.blocked("u-1", "10.0.0.1")
    # The account is blocked from any address, and the address for any account.
    assert throttle.blocked("u-1", "10.0.0.2")
    assert throttle.blocked("u-9", "10.0.0.1")
    assert not throttle.blocked("u-9", "10.0.0.2")
    clock.now += 299
    assert throttle.blocked("u-1", "10.0.0.2")
    clock.now += 2  # the lockout period is over
    assert not throttle.blocked("u-1", "10.0.0.1")


def test_a_success_clears_the_account_but_not_a_guessing_address() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(max_failures=2, lockout_seconds=60, clock=clock)
    throttle.failed("u-1", "10.0.0.1")
    throttle.succeeded("u-1", "10.0.0.1")
    throttle.failed("u-1", "10.0.0.3")
    assert not throttle.blocked("u-1", "10.0.0.4")
    throttle.failed("u-2", "10.0.0.1")
    assert throttle.blocked("u-3", "10.0.0.1")  # two failures from .1 in total
