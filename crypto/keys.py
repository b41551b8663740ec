"""Key files for every role, in one self-describing format, with restrictive permissions.

Each key is a small JSON document (`samenloop-key/v1`) that says what kind of key it holds and
its key id, so a VOPRF key can never be loaded where a signing key is expected. Secret files
are created with mode 0600 and refused on load when group or others can access them; public
halves are written next to them as `<file>.pub` (mode 0644).

kind      used by                              secret               public / key id
ed25519   matcher, privacy officers, reviewer  32-byte seed         key, ed25519:<16 hex>
x25519    wijkteam inbox (sealed disclosures)  32-byte private key  key, x25519:<16 hex>
voprf     pseudonymiser                        ristretto255 scalar  element, voprf:<16 hex>
hmac      matcher (pseudonym keying)           32 random bytes      hmac:<16 hex> only
vault     gateway identity vault               32 random bytes      vault:<16 hex> only

Symmetric keys get an id from a domain-separated hash of the key, so operators can tell keys
apart (rotation, manifests) without the id revealing anything usable.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from crypto._files import check_private_file as check_private_file  # re-exported: the one check
from crypto._files import (
    decode_key_document,
    encode_key_document,
    read_private_file,
    write_private_file,
    write_public_file,
)
from crypto.errors import CryptoError, KeyFileError
from crypto.oprf import generate_key_pair, public_key_id
from crypto.ristretto import Element, Scalar, scalar_mult_base
from crypto.sealing import X25519PrivateKey, X25519PublicKey
from crypto.signing import SigningKey, VerifyKey

SYMMETRIC_KEY_SIZE = 32

def read_private_key_file(path: Path) -> bytes:
    """The bytes of any private key file (a TLS key PEM included), after `check_private_file`."""
    return read_private_file(path)


class KeyKind(StrEnum):
    ED25519 = "ed25519"
    X25519 = "x25519"
    VOPRF = "voprf"
    HMAC = "hmac"
    VAULT = "vault"


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What may be published about a key file: kind, id, and the public key if it has one."""

    kind: KeyKind
    key_id: str
    public_base64: str | None
    path: Path
    public_path: Path | None


def public_path_for(path: Path) -> Path:
    return Path(path).with_name(Path(path).name + ".pub")


def symmetric_key_id(kind: KeyKind, key: bytes) -> str:
    """`<kind>:<16 hex>` of SHA-256 over a domain-separated prefix and the key."""
    digest = hashlib.sha256(b"samenloop:key-id:" + kind.value.encode() + b"\x00" + key).hexdigest()
    return f"{kind.value}:{digest[:16]}"


# ---------------------------------------------------------------------------------------------
# VOPRF keys


def save_voprf_key(sk: Scalar, path: Path, *, overwrite: bool = False) -> Element:
    """Write the pseudonymiser's private key (0600) and `<path>.pub`; returns the public key."""
    pk = scalar_mult_base(sk)
    key_id = public_key_id(pk)
    doc = encode_key_document(KeyKind.VOPRF, key_id, secret=sk.to_bytes(), public=pk.to_bytes())
    write_private_file(path, doc, overwrite=overwrite)
    pub = encode_key_document(KeyKind.VOPRF, key_id, secret=None, public=pk.to_bytes())
    write_public_file(public_path_for(path), pub, overwrite=overwrite)
    return pk


def load_voprf_key(path: Path) -> Scalar:
    """The pseudonymiser's private key; refuses exposed files and mismatched public parts."""
    data = read_private_file(path)
    try:
        sk = Scalar.from_bytes(decode_key_document(path, data, KeyKind.VOPRF, "secret"))
    except CryptoError as exc:
        raise KeyFileError(f"key file {path}: invalid VOPRF private key ({exc})") from None
    public = decode_key_document(path, data, KeyKind.VOPRF, "public")
    if not hmac.compare_digest(public, scalar_mult_base(sk).to_bytes()):
        raise KeyFileError(f"key file {path}: public part does not match the private key")
    return sk


def load_voprf_public_key(path: Path) -> Element:
    """The pseudonymiser's public key, from its `.pub` file (or the key file itself)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return Element.from_bytes(decode_key_document(path, data, KeyKind.VOPRF, "public"))
    except CryptoError as exc:
        if isinstance(exc, KeyFileError):
            raise
        raise KeyFileError(f"key file {path}: invalid VOPRF public key ({exc})") from None


# ---------------------------------------------------------------------------------------------
# Symmetric keys (matcher HMAC key, gateway vault key)


def save_symmetric_key(kind: KeyKind, key: bytes, path: Path, *, overwrite: bool = False) -> str:
    if kind not in (KeyKind.HMAC, KeyKind.VAULT):
        raise KeyFileError(f"{kind} is not a symmetric key kind")
    if len(key) != SYMMETRIC_KEY_SIZE:
        raise KeyFileError(f"a {kind} key is {SYMMETRIC_KEY_SIZE} bytes")
    key_id = symmetric_key_id(kind, key)
    write_private_file(
        path, encode_key_document(kind, key_id, secret=key, public=None), overwrite=overwrite
    )
    return key_id


def _load_symmetric(kind: KeyKind, path: Path) -> bytes:
    key = decode_key_document(path, read_private_file(path), kind, "secret")
    if len(key) != SYMMETRIC_KEY_SIZE:
        raise KeyFileError(f"key file {path}: a {kind} key is {SYMMETRIC_KEY_SIZE} bytes")
    return key


def load_hmac_key(path: Path) -> bytes:
    """The matcher's pseudonym HMAC key."""
    return _load_symmetric(KeyKind.HMAC, path)


def load_vault_key(path: Path) -> bytes:
    """A gateway's identity-vault key (for `crypto.vault`)."""
    return _load_symmetric(KeyKind.VAULT, path)


# ---------------------------------------------------------------------------------------------
# The other kinds live next to their algorithms; re-exported here so services have one module.


def load_signing_key(path: Path) -> SigningKey:
    return SigningKey.load(path)


def load_verify_key(path: Path) -> VerifyKey:
    return VerifyKey.load(path)


def load_x25519_private_key(path: Path) -> X25519PrivateKey:
    return X25519PrivateKey.load(path)


def load_x25519_public_key(path: Path) -> X25519PublicKey:
    return X25519PublicKey.load(path)


def generate_key_file(kind: KeyKind | str, path: Path, *, overwrite: bool = False) -> KeyInfo:
    """Create a new key of `kind` at `path` (0600) and, for public-key kinds, `<path>.pub`."""
    kind = KeyKind(kind)
    path = Path(path)
    if not overwrite and path.exists():
        raise KeyFileError(f"{path} already exists; refusing to overwrite a key file")
    pub_path: Path | None = public_path_for(path)
    if kind is KeyKind.ED25519:
        sk = SigningKey.generate()
        sk.save(path, overwrite=overwrite)
        sk.verify_key.save(public_path_for(path), overwrite=overwrite)
        key_id, public = sk.key_id, sk.verify_key.to_base64()
    elif kind is KeyKind.X25519:
        xk = X25519PrivateKey.generate()
        xk.save(path, overwrite=overwrite)
        xk.public_key.save(public_path_for(path), overwrite=overwrite)
        key_id, public = xk.key_id, xk.public_key.to_base64()
    elif kind is KeyKind.VOPRF:
        vsk, _ = generate_key_pair()
        pk = save_voprf_key(vsk, path, overwrite=overwrite)
        key_id, public = public_key_id(pk), base64.b64encode(pk.to_bytes()).decode("ascii")
    else:
        key_id = save_symmetric_key(kind, os.urandom(SYMMETRIC_KEY_SIZE), path, overwrite=overwrite)
        public, pub_path = None, None
    return KeyInfo(kind, key_id, public, path, pub_path)
