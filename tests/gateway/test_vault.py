"""The identity vault: encrypted at rest, bound to the signal id, purged with retention."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from crypto.errors import DecryptionFailed
from crypto.vault import generate_vault_key
from services.partner_gateway.store import open_store, vault
from services.partner_gateway.vault import Vault

NOW = datetime(2026, 12, 1, 12, 0)


@pytest.fixture
def store(tmp_path: Path) -> Vault:
    return Vault(open_store(f"sqlite:///{tmp_path / 'gateway.sqlite'}"), generate_vault_key())


def test_rows_read_back_until_their_retention_ends_and_are_then_purged(store: Vault) -> None:
    fields = {"geslachtsnaam": "Vermeulen", "postcode": "3072AB", "bsn": "999990007"}
    with store.engine.begin() as conn:
        store.put_many(conn, [store.seal_entry("s-1", fields, date(2026, 12, 31)),
                              store.seal_entry("s-2", {"postcode": "3073EF"}, date(2026, 11, 30))],
                       NOW)
    assert store.read("s-1", date(2026, 12, 1)) == fields
    assert store.read("s-1", date(2026, 12, 31)) == fields
    assert store.read("s-1", date(2027, 1, 1)) is None  # past retention: not live
    assert store.read("s-2", date(2026, 12, 1)) is None
    assert store.purge_expired(date(2026, 12, 1)) == ["s-2"]
    assert store.count() == 1
    with store.engine.connect() as conn:
        raw = b"".join(bytes(r.ciphertext) for r in conn.execute(sa.select(vault)))
    assert b"Vermeulen" not in raw and b"999990007" not in raw


def test_a_ciphertext_moved_to_another_signal_does_not_open(store: Vault) -> None:
    with store.engine.begin() as conn:
        store.put_many(conn, [store.seal_entry("s-1", {"geslachtsnaam": "A"}, date(2027, 1, 1)),
                              store.seal_entry("s-2", {"geslachtsnaam": "B"}, date(2027, 1, 1))],
                       NOW)
        conn.execute(vault.update().where(vault.c.signal_id == "s-2").values(
            ciphertext=sa.select(vault.c.ciphertext).where(vault.c.signal_id == "s-1")
            .scalar_subquery()))
    with pytest.raises(DecryptionFailed):
        store.read("s-2", date(2026, 12, 1))


def test_the_first_identity_of_a_signal_id_is_kept(store: Vault) -> None:
    with store.engine.begin() as conn:
        store.put_many(conn, [store.seal_entry("s-1", {"geslachtsnaam": "A"}, date(2027, 1, 1))],
                       NOW)
        store.put_many(conn, [store.seal_entry("s-1", {"geslachtsnaam": "B"}, date(2027, 1, 1))],
                       NOW)
    assert store.read("s-1", date(2026, 12, 1)) == {"geslachtsnaam": "A"}
