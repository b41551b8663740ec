"""The exceptions of the `crypto` package.

Every failure the package reports is a `CryptoError`, so a service can catch one type at its
boundary. Each subclass names what happened, never why in terms of secret values: messages carry
key ids, sizes and hashes of public data only, never a key, a blind, a plaintext or a pseudonym.
"""

from __future__ import annotations


class CryptoError(Exception):
    """Base class of every error raised by the `crypto` package."""


class InvalidSignature(CryptoError):
    """A signature does not verify against the given public key and message."""


class InvalidProof(CryptoError):
    """A VOPRF (DLEQ) proof does not verify: the evaluator did not use the pinned key."""


class InvalidElement(CryptoError):
    """Bytes are not the canonical encoding of a valid, non-identity ristretto255 element.

    RFC 9497 section 2.1 requires DeserializeElement to reject the identity and non-canonical
    encodings; accepting them would let a malicious peer learn or fix outputs.
    """


class InvalidScalar(CryptoError):
    """Bytes are not a canonical scalar (little-endian, below the group order), or it is zero."""


class InvalidInput(CryptoError):
    """An OPRF input hashes to the identity, or its length does not fit the wire format."""


class DeriveKeyPairError(CryptoError):
    """RFC 9497 DeriveKeyPair found no non-zero scalar in 256 attempts (negligible chance)."""


class DecryptionFailed(CryptoError):
    """A ciphertext does not authenticate: wrong key, wrong associated data, or tampered bytes."""


class InvalidPublicKey(CryptoError):
    """A public key is malformed, of the wrong length, or (X25519) of low order."""


class MerkleProofError(CryptoError):
    """A Merkle inclusion or consistency proof does not verify, or is malformed.

    `expected` and `calculated` carry the roots (public tree heads) when the failure is a
    mismatch, so an operator can see which log state disagrees; they are None otherwise.
    """

    def __init__(
        self, message: str, *, expected: bytes | None = None, calculated: bytes | None = None
    ) -> None:
        if expected is not None and calculated is not None:
            message = f"{message} (expected root {expected.hex()}, calculated {calculated.hex()})"
        super().__init__(message)
        self.expected = expected
        self.calculated = calculated


class CheckpointError(CryptoError):
    """A signed note or checkpoint is malformed, or no trusted key signed it."""


class KeyFileError(CryptoError):
    """A key file is missing, malformed, or readable by other users than its owner."""


class PkiError(CryptoError):
    """A certificate authority, certificate or identity cannot be created or read."""
