"""Signed tree heads: C2SP tlog-checkpoint bodies inside C2SP signed notes (Ed25519).

A checkpoint is the text

    <origin>\\n<tree size>\\n<base64 root hash>\\n[extension lines\\n]

signed as a *note*: the text, a blank line, then one line per signature,
`— <key name> <base64(4-byte key id || Ed25519 signature)>`. Using the format transparency
logs already use (Go's sumdb/note, Sigstore, witnesses) means third parties can check our
audit log with existing tools, and a gateway can keep a checkpoint as evidence of what the
central log said at a given size.

Keys are named `<name>+<8 hex key id>+<base64(0x01 || Ed25519 public key)>` (a *vkey*); the key
id is SHA-256(name || 0x0A || 0x01 || public key)[:4]. Verification follows the spec: unknown
signatures are ignored, a failing signature from a known key rejects the note, and a note
without any verified known signature is rejected.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from crypto.errors import CheckpointError, InvalidSignature
from crypto.merkle import HASH_SIZE
from crypto.signing import SigningKey, VerifyKey

ED25519_TYPE: Final = 0x01
SIGNATURE_PREFIX: Final = "\u2014 "  # em dash, space
MAX_SIGNATURES: Final = 100  # the spec requires accepting at least 16
_DECIMAL: Final = re.compile(r"0|[1-9][0-9]*")
_KEY_HASH: Final = re.compile(r"[0-9a-f]{8}")


def note_key_id(name: str, public_key: VerifyKey) -> int:
    """The signed-note key id: SHA-256(name || 0x0A || 0x01 || public key)[:4], big-endian."""
    _check_key_name(name)
    digest = hashlib.sha256(
        name.encode("utf-8") + b"\n" + bytes([ED25519_TYPE]) + public_key.to_bytes()
    ).digest()
    return int.from_bytes(digest[:4], "big")


def _check_key_name(name: str) -> None:
    if not name or "+" in name or any(ch.isspace() for ch in name):
        raise CheckpointError("a note key name must be non-empty, without spaces or '+'")


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise CheckpointError(f"{what} is not valid base64") from None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# ---------------------------------------------------------------------------------------------
# Keys


@dataclass(frozen=True, slots=True)
class NoteVerifier:
    """A trusted note key: a name and an Ed25519 public key."""

    name: str
    public_key: VerifyKey

    def __post_init__(self) -> None:
        _check_key_name(self.name)

    @property
    def key_id(self) -> int:
        return note_key_id(self.name, self.public_key)

    @property
    def vkey(self) -> str:
        """`<name>+<hex key id>+<base64(0x01 || public key)>`."""
        raw = bytes([ED25519_TYPE]) + self.public_key.to_bytes()
        return f"{self.name}+{self.key_id:08x}+{_b64(raw)}"

    @classmethod
    def from_vkey(cls, vkey: str) -> NoteVerifier:
        """Parse a verifier key string; its key id must match its name and key."""
        parts = vkey.strip().split("+", 2)  # the base64 part may itself contain '+'
        if len(parts) != 3 or not _KEY_HASH.fullmatch(parts[1]):
            raise CheckpointError("a verifier key is <name>+<8 hex>+<base64>")
        name, key_hash, material = parts
        raw = _b64decode(material, "verifier key material")
        if len(raw) != 33 or raw[0] != ED25519_TYPE:
            raise CheckpointError("verifier key is not an Ed25519 (type 0x01) key")
        verifier = cls(name, VerifyKey(raw[1:]))
        if verifier.key_id != int(key_hash, 16):
            raise CheckpointError(f"verifier key id {key_hash} does not match its name and key")
        return verifier


@dataclass(frozen=True, slots=True)
class NoteSigner:
    """A note signing key: a name and an Ed25519 private key. Its repr shows only the name."""

    name: str
    key: SigningKey

    def __post_init__(self) -> None:
        _check_key_name(self.name)

    @property
    def verifier(self) -> NoteVerifier:
        return NoteVerifier(self.name, self.key.verify_key)

    @property
    def key_id(self) -> int:
        return self.verifier.key_id

    @property
    def skey(self) -> str:
        """`PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 || seed)>` (Go's signer key format)."""
        raw = bytes([ED25519_TYPE]) + self.key.seed_bytes()
        return f"PRIVATE+KEY+{self.name}+{self.key_id:08x}+{_b64(raw)}"

    @classmethod
    def from_skey(cls, skey: str) -> NoteSigner:
        parts = skey.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"] or not _KEY_HASH.fullmatch(parts[3]):
            raise CheckpointError("a signer key is PRIVATE+KEY+<name>+<8 hex>+<base64>")
        raw = _b64decode(parts[4], "signer key material")
        if len(raw) != 33 or raw[0] != ED25519_TYPE:
            raise CheckpointError("signer key is not an Ed25519 (type 0x01) key")
        signer = cls(parts[2], SigningKey(raw[1:]))
        if signer.key_id != int(parts[3], 16):
            raise CheckpointError("signer key id does not match its name and key")
        return signer

    def sign(self, text: str) -> NoteSignature:
        _check_text(text)
        sig = self.key.sign_bytes(text.encode("utf-8"))
        return NoteSignature(self.name, self.key_id, sig)

    def __repr__(self) -> str:
        return f"NoteSigner({self.name}+{self.key_id:08x})"


# ---------------------------------------------------------------------------------------------
# Notes


@dataclass(frozen=True, slots=True)
class NoteSignature:
    name: str
    key_id: int
    signature: bytes

    def line(self) -> str:
        blob = self.key_id.to_bytes(4, "big") + self.signature
        return f"{SIGNATURE_PREFIX}{self.name} {_b64(blob)}\n"


@dataclass(frozen=True, slots=True)
class Note:
    """A parsed note: its text (ending in a newline) and its signatures, not yet verified."""

    text: str
    signatures: tuple[NoteSignature, ...]

    def to_text(self) -> str:
        return self.text + "\n" + "".join(s.line() for s in self.signatures)


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise CheckpointError("note text must end with a newline")
    if any(ord(ch) < 0x20 and ch != "\n" for ch in text):
        raise CheckpointError("note text must not contain control characters other than newline")


def parse_note(data: str | bytes) -> Note:
    """Split a signed note into text and signature lines; checks syntax only."""
    if isinstance(data, bytes | bytearray):
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            raise CheckpointError("note is not valid UTF-8") from None
    if any(ord(ch) < 0x20 and ch != "\n" for ch in data):
        raise CheckpointError("note contains control characters other than newline")
    split = data.rfind("\n\n")
    if split < 0:
        raise CheckpointError("note has no blank line before its signatures")
    text, block = data[: split + 1], data[split + 2 :]
    if not block.endswith("\n"):
        raise CheckpointError("note must end with a newline after its last signature")
    signatures = []
    for line in block[:-1].split("\n"):
        if not line.startswith(SIGNATURE_PREFIX):
            raise CheckpointError("malformed signature line (expected '— <name> <base64>')")
        fields = line[len(SIGNATURE_PREFIX) :].split(" ")
        if len(fields) != 2:
            raise CheckpointError("malformed signature line (expected '— <name> <base64>')")
        name, blob_text = fields
        _check_key_name(name)
        blob = _b64decode(blob_text, "signature")
        if len(blob) < 5:
            raise CheckpointError("signature is too short to hold a key id and a signature")
        signatures.append(NoteSignature(name, int.from_bytes(blob[:4], "big"), blob[4:]))
    if not signatures:
        raise CheckpointError("note has no signatures")
    if len(signatures) > MAX_SIGNATURES:
        raise CheckpointError(f"note has more than {MAX_SIGNATURES} signatures")
    return Note(text, tuple(signatures))


def sign_note(
    text: str, signers: Iterable[NoteSigner], existing: Sequence[NoteSignature] = ()
) -> str:
    """Sign `text` (which must end in a newline) with each signer; keep `existing` signatures."""
    _check_text(text)
    sigs = list(existing) + [s.sign(text) for s in signers]
    if not sigs:
        raise CheckpointError("a signed note needs at least one signature")
    return Note(text, tuple(sigs)).to_text()


def open_note(
    data: str | bytes, verifiers: Iterable[NoteVerifier]
) -> tuple[Note, list[NoteVerifier]]:
    """Parse and verify a note. Returns it with the known keys whose signatures verified.

    Raises `CheckpointError` if the note is malformed, if a known key's signature does not
    verify, or if no known key signed it. Signatures by unknown keys are ignored.
    """
    note = parse_note(data)
    known = {(v.name, v.key_id): v for v in verifiers}
    seen: set[tuple[str, int]] = set()
    verified: list[NoteVerifier] = []
    message = note.text.encode("utf-8")
    for sig in note.signatures:
        ident = (sig.name, sig.key_id)
        if ident in seen:
            raise CheckpointError(f"note has two signatures from key {sig.name}+{sig.key_id:08x}")
        seen.add(ident)
        verifier = known.get(ident)
        if verifier is None:
            continue
        try:
            verifier.public_key.verify_bytes(message, sig.signature)
        except InvalidSignature:
            raise CheckpointError(
                f"signature from known key {sig.name}+{sig.key_id:08x} does not verify"
            ) from None
        verified.append(verifier)
    if not verified:
        raise CheckpointError("note is not signed by any trusted key")
    return note, verified


# ---------------------------------------------------------------------------------------------
# Checkpoints


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A tree head: origin (log identity), tree size, RFC 6962 root hash, optional extensions."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin:
            raise CheckpointError("checkpoint origin must be one non-empty line")
        if self.size < 0:
            raise CheckpointError("checkpoint tree size must not be negative")
        if len(self.root_hash) != HASH_SIZE:
            raise CheckpointError(f"checkpoint root hash must be {HASH_SIZE} bytes")
        if any(not e or "\n" in e for e in self.extensions):
            raise CheckpointError("checkpoint extension lines must be non-empty single lines")

    def to_text(self) -> str:
        lines = [self.origin, str(self.size), _b64(self.root_hash), *self.extensions]
        text = "\n".join(lines) + "\n"
        _check_text(text)
        return text


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse a checkpoint note *text* (without signatures)."""
    if not text.endswith("\n"):
        raise CheckpointError("checkpoint text must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError("checkpoint needs origin, tree size and root hash lines")
    origin, size_text, root_text, *extensions = lines
    if not _DECIMAL.fullmatch(size_text):
        raise CheckpointError("checkpoint tree size is not a decimal without leading zeros")
    root = _b64decode(root_text, "checkpoint root hash")
    return Checkpoint(origin, int(size_text), root, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, signer: NoteSigner) -> str:
    """The signed note for `checkpoint`. The key name should equal the origin (spec SHOULD)."""
    return sign_note(checkpoint.to_text(), [signer])


def verify_checkpoint(
    data: str | bytes, verifiers: Iterable[NoteVerifier], *, origin: str | None = None
) -> Checkpoint:
    """Verify a signed checkpoint against trusted keys and return it.

    If `origin` is given the checkpoint must be for that log. Raises `CheckpointError`.
    """
    note, _ = open_note(data, verifiers)
    checkpoint = parse_checkpoint(note.text)
    if origin is not None and checkpoint.origin != origin:
        raise CheckpointError(f"checkpoint is for log {checkpoint.origin!r}, expected {origin!r}")
    return checkpoint
