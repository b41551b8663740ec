"""Witness cosignatures on checkpoints: C2SP tlog-cosignature `cosignature/v1` (Ed25519).

A cosignature is a note signature line a *witness* adds to a log's signed checkpoint after it
checked that the checkpoint is consistent with the last one it saw. Its blob is

    key id (4 bytes) || timestamp (u64, big-endian) || Ed25519 signature (64 bytes)

and the signature covers

    "cosignature/v1\\n" "time <timestamp>\\n" <the whole checkpoint body, final newline included>

The key id is SHA-256(name || 0x0A || 0x04 || public key)[:4]: type 0x04, not the 0x01 of a
plain note signature, so a witness line never verifies as the log's signature and vice versa
(`crypto.checkpoint.open_note` skips it as an unknown key). The v1 message does not commit to
the witness name, so one key must never serve two witnesses.

In samenloop the witnesses are the partners' gateways; the witness name is the partner's
organisation id. `cosign_checkpoint` and `verify_cosignature` are the two calls a service
needs; `verified_cosigners` checks every cosignature of a note at once (k of n).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from crypto.checkpoint import SIGNATURE_PREFIX, NoteSignature, parse_checkpoint, parse_note
from crypto.errors import CheckpointError, InvalidSignature
from crypto.signing import SIGNATURE_SIZE, SigningKey, VerifyKey

COSIGNATURE_V1_TYPE: Final = 0x04
HEADER: Final = "cosignature/v1"
MAX_TIMESTAMP: Final = 2**63 - 1
BLOB_SIZE: Final = 4 + 8 + SIGNATURE_SIZE
_KEY_HASH: Final = re.compile(r"[0-9a-f]{8}")


class CosignatureError(CheckpointError):
    """A cosignature line is malformed, is not by the expected witness, or does not verify."""


def _check_name(name: str) -> None:
    if not name or "+" in name or any(ch.isspace() for ch in name):
        raise CosignatureError("a witness name must be non-empty, without spaces or '+'")


def cosignature_key_id(name: str, public_key: VerifyKey) -> int:
    """SHA-256(name || 0x0A || 0x04 || public key)[:4] as a big-endian integer."""
    _check_name(name)
    digest = hashlib.sha256(
        name.encode("utf-8") + b"\n" + bytes([COSIGNATURE_V1_TYPE]) + public_key.to_bytes()
    ).digest()
    return int.from_bytes(digest[:4], "big")


@dataclass(frozen=True, slots=True)
class CosignatureVerifier:
    """A witness a verifier trusts: its name and Ed25519 public key (cosignature/v1)."""

    name: str
    public_key: VerifyKey

    def __post_init__(self) -> None:
        _check_name(self.name)

    @property
    def key_id(self) -> int:
        return cosignature_key_id(self.name, self.public_key)

    @property
    def vkey(self) -> str:
        """`<name>+<8 hex key id>+<base64(0x04 || public key)>` (C2SP signed-note vkey)."""
        raw = bytes([COSIGNATURE_V1_TYPE]) + self.public_key.to_bytes()
        return f"{self.name}+{self.key_id:08x}+{base64.b64encode(raw).decode('ascii')}"

    @classmethod
    def from_vkey(cls, vkey: str) -> CosignatureVerifier:
        """Parse a type 0x04 verifier key; its key id must match its name and key."""
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3 or not _KEY_HASH.fullmatch(parts[1]):
            raise CosignatureError("a witness key is <name>+<8 hex>+<base64>")
        name, key_hash, material = parts
        try:
            raw = base64.b64decode(material.encode("ascii"), validate=True)
            expected_id = int(key_hash, 16)
        except ValueError:
            raise CosignatureError("witness key is not <name>+<8 hex>+<base64>") from None
        if len(raw) != 33 or raw[0] != COSIGNATURE_V1_TYPE:
            raise CosignatureError("witness key is not a cosignature/v1 (type 0x04) key")
        verifier = cls(name, VerifyKey(raw[1:]))
        if verifier.key_id != expected_id:
            raise CosignatureError(f"witness key id {key_hash} does not match its name and key")
        return verifier


@dataclass(frozen=True, slots=True)
class Cosigner:
    """A witness's signing key. Its repr shows only the name and key id."""

    name: str
    key: SigningKey

    def __post_init__(self) -> None:
        _check_name(self.name)

    @property
    def verifier(self) -> CosignatureVerifier:
        return CosignatureVerifier(self.name, self.key.verify_key)

    @property
    def key_id(self) -> int:
        return self.verifier.key_id

    def __repr__(self) -> str:
        return f"Cosigner({self.name}+{self.key_id:08x})"


@dataclass(frozen=True, slots=True)
class Cosignature:
    """A parsed cosignature line (syntax checked, signature not yet verified)."""

    name: str
    key_id: int
    timestamp: int
    signature: bytes

    def line(self) -> str:
        """The signature line without its final newline: `— <name> <base64 blob>`."""
        blob = (
            self.key_id.to_bytes(4, "big") + self.timestamp.to_bytes(8, "big") + self.signature
        )
        return f"{SIGNATURE_PREFIX}{self.name} {base64.b64encode(blob).decode('ascii')}"


def _check_timestamp(timestamp: int) -> None:
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise CosignatureError("a cosignature timestamp is an integer (seconds since the epoch)")
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise CosignatureError(f"a cosignature timestamp must be in 0..{MAX_TIMESTAMP}")


def _check_body(body: str) -> None:
    """The body must be a checkpoint note text: origin, size, root hash, newline-terminated."""
    parse_checkpoint(body)


def cosigned_message(body: str, timestamp: int) -> bytes:
    """The bytes a cosignature/v1 signs: header line, time line, then the checkpoint body."""
    _check_timestamp(timestamp)
    _check_body(body)
    return f"{HEADER}\ntime {timestamp}\n{body}".encode()


def cosign_checkpoint(body: str, signer: Cosigner, timestamp: int) -> str:
    """The witness's signature line over a checkpoint body (no trailing newline).

    `body` is the checkpoint note text without signatures, ending in a newline; `timestamp`
    is the cosigning time in POSIX seconds. Requires 0 <= timestamp <= 2**63 - 1.
    """
    signature = signer.key.sign_bytes(cosigned_message(body, timestamp))
    return Cosignature(signer.name, signer.key_id, timestamp, signature).line()


def parse_cosignature(line: str) -> Cosignature:
    """Parse one `— <name> <base64>` line (a trailing newline is allowed) as cosignature/v1."""
    text = line[:-1] if line.endswith("\n") else line
    if not text.startswith(SIGNATURE_PREFIX) or "\n" in text:
        raise CosignatureError("a cosignature is one line '— <name> <base64>'")
    fields = text[len(SIGNATURE_PREFIX) :].split(" ")
    if len(fields) != 2:
        raise CosignatureError("a cosignature is one line '— <name> <base64>'")
    name, blob_text = fields
    _check_name(name)
    try:
        blob = base64.b64decode(blob_text.encode("ascii"), validate=True)
    except ValueError:
        raise CosignatureError("cosignature is not valid base64") from None
    if len(blob) != BLOB_SIZE:
        raise CosignatureError(
            f"a cosignature/v1 blob is {BLOB_SIZE} bytes (key id, timestamp, signature),"
            f" got {len(blob)}"
        )
    timestamp = int.from_bytes(blob[4:12], "big")
    _check_timestamp(timestamp)
    return Cosignature(name, int.from_bytes(blob[:4], "big"), timestamp, blob[12:])


def verify_cosignature(
    body: str, line: str, verifier: CosignatureVerifier, *, not_after: int | None = None
) -> Cosignature:
    """Check that `line` is `verifier`'s cosignature/v1 over the checkpoint `body`.

    Returns the parsed cosignature (its `timestamp` is the signed time). With `not_after`
    (POSIX seconds), a cosignature dated later is refused (the spec lets verifiers reject
    timestamps in the future). Raises `CosignatureError`.
    """
    cosig = parse_cosignature(line)
    if cosig.name != verifier.name or cosig.key_id != verifier.key_id:
        raise CosignatureError(
            f"cosignature is by {cosig.name}+{cosig.key_id:08x}, expected witness"
            f" {verifier.name}+{verifier.key_id:08x}"
        )
    if not_after is not None and cosig.timestamp > not_after:
        raise CosignatureError(f"cosignature by {cosig.name} is dated in the future")
    try:
        verifier.public_key.verify_bytes(cosigned_message(body, cosig.timestamp), cosig.signature)
    except InvalidSignature:
        raise CosignatureError(
            f"cosignature by witness {verifier.name}+{verifier.key_id:08x} does not verify"
        ) from None
    return cosig


def _line_of(sig: NoteSignature) -> str:
    blob = sig.key_id.to_bytes(4, "big") + sig.signature
    return f"{SIGNATURE_PREFIX}{sig.name} {base64.b64encode(blob).decode('ascii')}"


def verified_cosigners(
    note: str | bytes, witnesses: Iterable[CosignatureVerifier]
) -> dict[str, Cosignature]:
    """Verify every cosignature in a signed note by a known witness; witness name -> cosignature.

    Lines by unknown keys (the log's own signature among them) are ignored. A line that
    claims a known witness's key id but does not verify raises `CosignatureError`, as a
    failing known key does for signed notes. The log's signature is not checked here: use
    `crypto.checkpoint.verify_checkpoint` for that.
    """
    parsed = parse_note(note)
    known = {(w.name, w.key_id): w for w in witnesses}
    found: dict[str, Cosignature] = {}
    for sig in parsed.signatures:
        witness = known.get((sig.name, sig.key_id))
        if witness is None:
            continue
        if witness.name in found:
            raise CosignatureError(f"note has two cosignatures by witness {witness.name}")
        found[witness.name] = verify_cosignature(parsed.text, _line_of(sig), witness)
    return found
