"""The identity vault: what the gateway knows about each submitted signal, encrypted at rest.

For every signal it sends, the gateway keeps the identity fields of the export row (BSN,
address, names, date of birth, phone, e-mail, contact person) so that it can disclose them later
under a policy. They are encrypted with the vault key (crypto.vault, XChaCha20-Poly1305) with the
signal id as associated data, so a ciphertext copied under another signal id does not open.
The key lives in a file outside the database. Rows are purged when the signal's retention ends
or when it is withdrawn; the purge logs ids and counts only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crypto.vault import decrypt_row, encrypt_row
from domain.formats.signals import SignalRow
from policies.fields import IDENTITY_FIELDS
from services.partner_gateway.store import vault


def identity_fields(row: SignalRow) -> dict[str, str]:
    """The row's identity fields under the canonical names a policy uses (non-empty only)."""
    canonical = row.canonical()
    return {name: canonical[name] for name in IDENTITY_FIELDS if canonical.get(name)}


@dataclass(frozen=True)
class VaultEntry:
    signal_id: str
    expires_on: date
    ciphertext: bytes


class Vault:
    """Encrypt, store, read and purge identity rows."""

    def __init__(self, engine: Engine, key: bytes) -> None:
        self.engine = engine
        self._key = key

    def seal_entry(self, signal_id: str, fields: Mapping[str, str], expires_on: date) -> VaultEntry:
        plaintext = json.dumps(dict(fields), sort_keys=True, ensure_ascii=False).encode("utf-8")
        return VaultEntry(signal_id, expires_on, encrypt_row(self._key, signal_id, plaintext))

    def put_many(self, conn: sa.Connection, entries: Iterable[VaultEntry], now: datetime) -> None:
        """Store entries; a signal id already in the vault keeps its first identity."""
        rows = list(entries)
        if not rows:
            return
        present = set(conn.execute(
            sa.select(vault.c.signal_id).where(vault.c.signal_id.in_([e.signal_id for e in rows]))
        ).scalars())
        fresh = {e.signal_id: e for e in rows if e.signal_id not in present}
        if fresh:
            conn.execute(sa.insert(vault), [
                {"signal_id": e.signal_id, "ciphertext": e.ciphertext,
                 "expires_on": e.expires_on, "stored_at": now}
                for e in fresh.values()
            ])

    def read(self, signal_id: str, today: date) -> dict[str, str] | None:
        """The identity fields of a live signal, or None if it is gone or past retention."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(vault).where(vault.c.signal_id == signal_id)).first()
        if row is None or row.expires_on < today:
            return None
        data = json.loads(decrypt_row(self._key, signal_id, bytes(row.ciphertext)))
        return {str(k): str(v) for k, v in data.items()}

    def remove(self, conn: sa.Connection, signal_ids: Sequence[str]) -> int:
        """Delete the rows of these signals (withdrawn, or refused by the matcher)."""
        if not signal_ids:
            return 0
        return int(conn.execute(
            sa.delete(vault).where(vault.c.signal_id.in_(list(signal_ids)))).rowcount or 0)

    def purge_expired(self, today: date) -> list[str]:
        """Delete every row whose retention ended before `today`; returns the signal ids."""
        with self.engine.begin() as conn:
            ids = list(conn.execute(
                sa.select(vault.c.signal_id).where(vault.c.expires_on < today)).scalars())
            if ids:
                conn.execute(sa.delete(vault).where(vault.c.expires_on < today))
        return ids

    def address_of(self, bsn: str, today: date) -> dict[str, str] | None:
        """The address fields held with a live signal about this BSN, if any.

        An inquiry names a household; a professional who knows the person by BSN is involved
        only through a signal of their own, so the address is looked up there (every row is
        decrypted in turn: the vault is the partner's own, and modest in size).
        """
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(vault.c.signal_id, vault.c.ciphertext).where(
                vault.c.expires_on >= today)).all()
        for row in rows:
            data = json.loads(decrypt_row(self._key, row.signal_id, bytes(row.ciphertext)))
            if data.get("bsn") == bsn and data.get("postcode") and data.get("huisnummer"):
                return {k: str(v) for k, v in data.items()
                        if k in ("postcode", "huisnummer", "huisletter", "huisnummertoevoeging")}
        return None

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(vault)).scalar_one())
