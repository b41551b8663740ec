"""Whom `audit verify` believes: the audit keys file, or keys given on the command line.

    format: samenloop-audit-keys/v1
    log: samenloop.local/audit+1a2b3c4d+AU0v...          # the matcher's checkpoint key (vkey)
    witnesses:                                          # the partners' cosignature keys
      woonstad-rotterdam: woonstad-rotterdam+5e6f7a8b+BOvN...

`samenloop pki dev-setup` writes `audit-keys.yaml` for its deployment. In production the
controller publishes the log key and each partner its own witness key; a verifier takes them
from those publications, never from the matcher it checks.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

import yaml

from crypto.checkpoint import NoteVerifier
from crypto.cosignature import CosignatureVerifier
from crypto.errors import CheckpointError
from samenloop.auditverify.core import Trust
from services.common.config import ConfigError

FORMAT: Final = "samenloop-audit-keys/v1"


class TrustError(ConfigError):
    """The keys file or a key is unusable; the message names the file and the fix."""


def _log_key(text: str, where: str) -> NoteVerifier:
    try:
        return NoteVerifier.from_vkey(text)
    except CheckpointError as exc:
        raise TrustError(f"{where}: the log key is not a note verifier key ({exc})") from None


def _witness_key(text: str, where: str) -> CosignatureVerifier:
    try:
        return CosignatureVerifier.from_vkey(text)
    except CheckpointError as exc:
        raise TrustError(f"{where}: not a cosignature/v1 witness key ({exc})") from None


def document(log_vkey: str, witness_vkeys: dict[str, str]) -> dict[str, Any]:
    """The keys file's content (what dev-setup writes)."""
    return {"format": FORMAT, "log": log_vkey, "witnesses": dict(sorted(witness_vkeys.items()))}


def load_trust(path: Path | None, log: str | None = None, witnesses: Iterable[str] = ()) -> Trust:
    """Keys from `path` (optional) plus `log` (replaces the file's) and extra `witnesses`."""
    log_key: NoteVerifier | None = None
    found: list[CosignatureVerifier] = []
    if path is not None:
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise TrustError(f"cannot read the audit keys file {path}: {exc.strerror}") from None
        except yaml.YAMLError:
            raise TrustError(f"{path} is not YAML; expected the {FORMAT} keys file") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise TrustError(f"{path}: expected `format: {FORMAT}` (an audit keys file, as "
                             "`samenloop pki dev-setup` writes audit-keys.yaml)")
        if data.get("log"):
            log_key = _log_key(str(data["log"]), f"{path}: log")
        for name, vkey in (data.get("witnesses") or {}).items():
            witness = _witness_key(str(vkey), f"{path}: witnesses.{name}")
            if witness.name != name:
                raise TrustError(f"{path}: witnesses.{name} holds the key of {witness.name}")
            found.append(witness)
    if log:
        log_key = _log_key(log, "--log-key")
    found.extend(_witness_key(w, "--witness") for w in witnesses)
    if log_key is None:
        raise TrustError("no log key: give the audit keys file with --keys FILE (dev-setup "
                         "writes audit-keys.yaml) or the matcher's checkpoint key with --log-key")
    return Trust(log_key, tuple({w.vkey: w for w in found}.values()))
