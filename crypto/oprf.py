"""RFC 9497 OPRF and VOPRF over ristretto255-SHA512 (modes 0 and 1), batched.

The pseudonymiser holds the key `sk`; a gateway blinds each identifier (`blind`), sends the
blinded elements, gets back `sk * blinded` with one DLEQ proof for the whole batch
(`blind_evaluate`), and unblinds (`finalize`), which first checks the proof against the
pseudonymiser's *pinned* public key. The pseudonymiser sees only uniformly random group
elements; the gateway learns the PRF output and can prove the evaluator used the published key,
so a pseudonymiser that used a different key for one partner is caught.

Functions carry the RFC's names in snake_case and follow its pseudocode (section 3.3), including
the batched proof of section 2.2.1 (`ComputeCompositesFast` on the server, `ComputeComposites` on
the client). Randomness comes from libsodium's CSPRNG; the `rng` parameters exist only so the
RFC's deterministic test vectors can be reproduced.

For the gateway and pseudonymiser there are two recipes at the bottom: `VoprfClient` (batch
blind -> finalize against a pinned key, error naming that key) and `VoprfServer`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

import rbcl

from crypto.errors import (
    CryptoError,
    DeriveKeyPairError,
    InvalidElement,
    InvalidInput,
    InvalidProof,
    InvalidScalar,
)
from crypto.h2c import Expander
from crypto.ristretto import (
    SCALAR_SIZE,
    Element,
    Scalar,
    batch_invert,
    scalar_mult_base,
)

IDENTIFIER: Final = b"ristretto255-SHA512"
PROOF_SIZE: Final = 2 * SCALAR_SIZE
OUTPUT_SIZE: Final = 64  # SHA-512
MAX_INPUT_SIZE: Final = 0xFFFF
MAX_BATCH: Final = 0xFFFF  # I2OSP(i, 2) in the composite transcript
KEY_ID_PREFIX: Final = "voprf:"

RandomScalar = Callable[[], Scalar]
"""A source of non-zero scalars; `Scalar.random` unless a test reproduces a vector."""

_smul = rbcl.crypto_scalarmult_ristretto255
_add = rbcl.crypto_core_ristretto255_add
_ZERO32: Final = bytes(32)
_LEN32: Final = (32).to_bytes(2, "big")
_LEN64: Final = (64).to_bytes(2, "big")


class OprfMode(IntEnum):
    """RFC 9497 section 3.1 modes. POPRF (2) is not implemented."""

    OPRF = 0
    VOPRF = 1


class _Suite:
    """Everything derived from contextString = "OPRFV1-" || I2OSP(mode, 1) || "-" || identifier."""

    __slots__ = ("context", "derive_key", "hash_to_group", "hash_to_scalar", "mode", "seed_dst")

    def __init__(self, mode: OprfMode) -> None:
        self.mode = mode
        self.context = b"OPRFV1-" + bytes([mode]) + b"-" + IDENTIFIER
        self.hash_to_group = Expander(b"HashToGroup-" + self.context)
        self.hash_to_scalar = Expander(b"HashToScalar-" + self.context)
        self.derive_key = Expander(b"DeriveKeyPair" + self.context)
        self.seed_dst = b"Seed-" + self.context


_SUITES: Final = {mode: _Suite(mode) for mode in OprfMode}


def _suite(mode: OprfMode) -> _Suite:
    try:
        return _SUITES[OprfMode(mode)]
    except ValueError:
        raise CryptoError(f"unsupported OPRF mode {mode!r}") from None


def _i2osp2(n: int) -> bytes:
    return n.to_bytes(2, "big")


# ---------------------------------------------------------------------------------------------
# Serialisation (RFC 9497 section 2.1 / 4.1: 32-byte elements and scalars, proof = c || s)


@dataclass(frozen=True, slots=True)
class Proof:
    """A DLEQ proof `(c, s)` (RFC 9497 section 2.2). Public; serialises to 64 bytes."""

    c: Scalar
    s: Scalar

    def to_bytes(self) -> bytes:
        return self.c.to_bytes() + self.s.to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> Proof:
        return deserialize_proof(data)


@dataclass(frozen=True, slots=True)
class BlindEvaluation:
    """The output of `blind_evaluate`: one evaluated element per input, and (VOPRF) one proof."""

    evaluated_elements: tuple[Element, ...]
    proof: Proof | None


def serialize_element(element: Element) -> bytes:
    return element.to_bytes()


def deserialize_element(data: bytes) -> Element:
    """RFC 9497 DeserializeElement: refuses non-canonical encodings and the identity."""
    return Element.from_bytes(data)


def serialize_scalar(scalar: Scalar) -> bytes:
    return scalar.to_bytes()


def deserialize_scalar(data: bytes) -> Scalar:
    """A canonical, non-zero scalar (private keys and blinds are never zero)."""
    return Scalar.from_bytes(data)


def serialize_proof(proof: Proof) -> bytes:
    return proof.to_bytes()


def deserialize_proof(data: bytes) -> Proof:
    """Two canonical scalars `c || s`; raises `InvalidProof` if malformed."""
    if len(data) != PROOF_SIZE:
        raise InvalidProof(f"a proof is {PROOF_SIZE} bytes, got {len(data)}")
    try:
        c = Scalar.from_bytes(data[:SCALAR_SIZE], allow_zero=True)
        s = Scalar.from_bytes(data[SCALAR_SIZE:], allow_zero=True)
    except InvalidScalar:
        raise InvalidProof("proof scalar is not canonical") from None
    return Proof(c, s)


def public_key_id(public_key: Element | bytes) -> str:
    """`voprf:<first 16 hex of SHA-256(serialised public key)>`: how logs and errors name a key."""
    raw = public_key.to_bytes() if isinstance(public_key, Element) else bytes(public_key)
    return KEY_ID_PREFIX + hashlib.sha256(raw).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------
# Keys (RFC 9497 section 3.2)


def generate_key_pair() -> tuple[Scalar, Element]:
    """A random key pair `(skS, pkS)` from the CSPRNG (RFC 9497 3.2, GenerateKeyPair)."""
    sk = Scalar.random()
    return sk, scalar_mult_base(sk)


def derive_key_pair(
    seed: bytes, info: bytes, *, mode: OprfMode = OprfMode.VOPRF
) -> tuple[Scalar, Element]:
    """RFC 9497 3.2.1 DeriveKeyPair: a deterministic key pair from a 32-byte secret seed.

    `info` is public context (a key label); the derived key depends on `mode`.
    """
    if len(seed) != 32:
        raise CryptoError("DeriveKeyPair takes a 32-byte seed")
    if len(info) > 0xFFFF:
        raise CryptoError("DeriveKeyPair info is longer than 65535 bytes")
    derive_input = bytes(seed) + _i2osp2(len(info)) + bytes(info)
    expander = _suite(mode).derive_key
    for counter in range(256):
        sk = expander.to_scalar(derive_input + bytes([counter]))
        if not sk.is_zero():
            return sk, scalar_mult_base(sk)
    raise DeriveKeyPairError("DeriveKeyPair: no non-zero scalar in 256 attempts")


def public_key(sk: Scalar) -> Element:
    """`pkS = skS * G`."""
    return scalar_mult_base(sk)


# ---------------------------------------------------------------------------------------------
# Protocol (RFC 9497 section 3.3)


def _check_input(input: bytes) -> None:
    if not isinstance(input, bytes | bytearray):
        raise InvalidInput("an OPRF input is bytes")
    if len(input) > MAX_INPUT_SIZE:
        raise InvalidInput(f"an OPRF input is at most {MAX_INPUT_SIZE} bytes, got {len(input)}")


def _hash_to_group(suite: _Suite, input: bytes) -> Element:
    try:
        return suite.hash_to_group.to_group(bytes(input))
    except InvalidElement:
        raise InvalidInput("input hashes to the identity element") from None


def blind(
    input: bytes, rng: RandomScalar | None = None, *, mode: OprfMode = OprfMode.VOPRF
) -> tuple[Scalar, Element]:
    """Blind(input) -> (blind, blindedElement). Keep `blind` secret until `finalize`."""
    _check_input(input)
    suite = _suite(mode)
    r = (rng or Scalar.random)()
    if r.is_zero():
        raise InvalidScalar("blind must not be zero")
    element = _hash_to_group(suite, input)
    return r, element * r


def blind_evaluate(
    sk: Scalar,
    pk: Element | None,
    blinded_elements: Sequence[Element],
    rng: RandomScalar | None = None,
    *,
    mode: OprfMode = OprfMode.VOPRF,
) -> BlindEvaluation:
    """BlindEvaluate for a batch: `sk * C_i` for every C_i, plus one DLEQ proof in VOPRF mode.

    In VOPRF mode `pk` must be `sk`'s public key; in OPRF mode it is ignored and no proof is
    made. `rng` supplies the proof nonce (VOPRF only).
    """
    suite = _suite(mode)
    blinded = list(blinded_elements)
    if not blinded:
        raise CryptoError("blind_evaluate needs at least one blinded element")
    if len(blinded) > MAX_BATCH:
        raise CryptoError(f"a batch holds at most {MAX_BATCH} elements")
    k = sk.to_bytes()
    c_raw = [e.to_bytes() for e in blinded]
    try:
        d_raw = [_smul(k, c) for c in c_raw]
    except RuntimeError:
        raise InvalidElement("evaluation yields the identity") from None
    evaluated = tuple(Element._trusted(d) for d in d_raw)
    if suite.mode is OprfMode.OPRF:
        return BlindEvaluation(evaluated, None)
    if pk is None:
        raise CryptoError("VOPRF mode needs the public key to prove the evaluation")
    proof = _generate_proof(suite, sk, pk, c_raw, d_raw, rng or Scalar.random)
    return BlindEvaluation(evaluated, proof)


def _finalize_hash(input: bytes, unblinded: bytes) -> bytes:
    h = hashlib.sha512(_i2osp2(len(input)))
    h.update(input)
    h.update(_LEN32)
    h.update(unblinded)
    h.update(b"Finalize")
    return h.digest()


def finalize(
    inputs: Sequence[bytes],
    blinds: Sequence[Scalar],
    evaluated_elements: Sequence[Element],
    blinded_elements: Sequence[Element],
    pk: Element | None,
    proof: Proof | None,
    *,
    mode: OprfMode = OprfMode.VOPRF,
) -> list[bytes]:
    """Finalize a batch: verify the proof (VOPRF), unblind, and hash to the 64-byte outputs.

    Raises `InvalidProof` if the proof does not verify against `pk`; nothing is unblinded then.
    In OPRF mode `pk`, `proof` and `blinded_elements` are not used.
    """
    suite = _suite(mode)
    n = len(inputs)
    if not (len(blinds) == len(evaluated_elements) == n) or n == 0:
        raise CryptoError("finalize needs equally many (>0) inputs, blinds and evaluated elements")
    if suite.mode is OprfMode.VOPRF:
        if pk is None or proof is None:
            raise InvalidProof("VOPRF finalize needs the evaluator's public key and a proof")
        if len(blinded_elements) != n:
            raise CryptoError("finalize needs one blinded element per input")
        if not _verify_proof(
            suite,
            pk,
            [e.to_bytes() for e in blinded_elements],
            [e.to_bytes() for e in evaluated_elements],
            proof,
        ):
            raise InvalidProof(f"batch proof does not verify against key {public_key_id(pk)}")
    for x in inputs:
        _check_input(x)
    inverses = batch_invert(blinds)
    out = []
    for x, inv, d in zip(inputs, inverses, evaluated_elements, strict=True):
        try:
            unblinded = _smul(inv.to_bytes(), d.to_bytes())
        except RuntimeError:
            raise InvalidElement("unblinding yields the identity") from None
        out.append(_finalize_hash(bytes(x), unblinded))
    return out


def evaluate(sk: Scalar, input: bytes, *, mode: OprfMode = OprfMode.VOPRF) -> bytes:
    """Evaluate(skS, input): the PRF output computed directly by the key holder."""
    _check_input(input)
    element = _hash_to_group(_suite(mode), input)
    return _finalize_hash(bytes(input), (element * sk).to_bytes())


# ---------------------------------------------------------------------------------------------
# Batched DLEQ proof (RFC 9497 section 2.2), A = G, B = pkS


def _composite_weights(
    suite: _Suite, b: bytes, c_raw: list[bytes], d_raw: list[bytes]
) -> list[bytes]:
    seed_dst = suite.seed_dst
    seed = hashlib.sha512(_LEN32 + b + _i2osp2(len(seed_dst)) + seed_dst).digest()
    prefix = _LEN64 + seed
    h2s = suite.hash_to_scalar
    return [
        h2s.to_scalar(prefix + _i2osp2(i) + _LEN32 + ci + _LEN32 + di + b"Composite").to_bytes()
        for i, (ci, di) in enumerate(zip(c_raw, d_raw, strict=True))
    ]


def _weighted_sum(weights: list[bytes], points: list[bytes]) -> bytes:
    total: bytes | None = None
    for w, p in zip(weights, points, strict=True):
        term = _smul(w, p)
        total = term if total is None else _add(total, term)
    if total is None or total == _ZERO32:
        raise InvalidElement("composite is the identity")
    return total


def _challenge(suite: _Suite, b: bytes, m: bytes, z: bytes, t2: bytes, t3: bytes) -> Scalar:
    transcript = b"".join(_LEN32 + x for x in (b, m, z, t2, t3)) + b"Challenge"
    return suite.hash_to_scalar.to_scalar(transcript)


def _generate_proof(
    suite: _Suite, k: Scalar, pk: Element, c_raw: list[bytes], d_raw: list[bytes], rng: RandomScalar
) -> Proof:
    b = pk.to_bytes()
    weights = _composite_weights(suite, b, c_raw, d_raw)
    try:
        m = _weighted_sum(weights, c_raw)
        z = _smul(k.to_bytes(), m)  # ComputeCompositesFast: Z = k * M
        r = rng()
        t2 = scalar_mult_base(r).to_bytes()
        t3 = _smul(r.to_bytes(), m)
    except RuntimeError:
        raise InvalidElement("proof generation hit the identity element") from None
    c = _challenge(suite, b, m, z, t2, t3)
    return Proof(c, r - c * k)


def _verify_proof(
    suite: _Suite, pk: Element, c_raw: list[bytes], d_raw: list[bytes], proof: Proof
) -> bool:
    b = pk.to_bytes()
    weights = _composite_weights(suite, b, c_raw, d_raw)
    c, s = proof.c.to_bytes(), proof.s.to_bytes()
    try:
        m = _weighted_sum(weights, c_raw)
        z = _weighted_sum(weights, d_raw)
        t2 = _add(scalar_mult_base(proof.s).to_bytes(), _smul(c, b))
        t3 = _add(_smul(s, m), _smul(c, z))
    except (RuntimeError, InvalidElement):
        # An identity anywhere (e.g. s = 0) never occurs for an honest prover.
        return False
    expected = _challenge(suite, b, m, z, t2, t3)
    return hmac.compare_digest(expected.to_bytes(), c)


def generate_proof(
    k: Scalar,
    pk: Element,
    blinded_elements: Sequence[Element],
    evaluated_elements: Sequence[Element],
    rng: RandomScalar | None = None,
) -> Proof:
    """RFC 9497 GenerateProof(k, G, pk, C, D) in VOPRF mode (exposed for tests and tools)."""
    return _generate_proof(
        _suite(OprfMode.VOPRF),
        k,
        pk,
        [e.to_bytes() for e in blinded_elements],
        [e.to_bytes() for e in evaluated_elements],
        rng or Scalar.random,
    )


def verify_proof(
    pk: Element,
    blinded_elements: Sequence[Element],
    evaluated_elements: Sequence[Element],
    proof: Proof,
) -> bool:
    """RFC 9497 VerifyProof(G, pk, C, D, proof) in VOPRF mode."""
    if len(blinded_elements) != len(evaluated_elements) or not blinded_elements:
        return False
    return _verify_proof(
        _suite(OprfMode.VOPRF),
        pk,
        [e.to_bytes() for e in blinded_elements],
        [e.to_bytes() for e in evaluated_elements],
        proof,
    )


# ---------------------------------------------------------------------------------------------
# Recipes for the services: bytes on the wire, a pinned key, errors that name the key.


@dataclass(frozen=True, slots=True)
class BlindedBatch:
    """Client state between `VoprfClient.blind_batch` and `VoprfClient.finalize`.

    `blinds` are secret: whoever holds them and the evaluations can compute the outputs. Keep
    the object in memory only; send `wire()` to the pseudonymiser.
    """

    inputs: tuple[bytes, ...]
    blinds: tuple[Scalar, ...]
    blinded_elements: tuple[Element, ...]

    def wire(self) -> list[bytes]:
        """The serialised blinded elements, in order, as sent to the evaluator."""
        return [e.to_bytes() for e in self.blinded_elements]

    def __repr__(self) -> str:
        return f"BlindedBatch(size={len(self.inputs)})"


class VoprfClient:
    """A gateway's VOPRF client, pinned to the pseudonymiser's published public key.

    >>> client = VoprfClient(pinned_public_key)            # doctest: +SKIP
    >>> batch = client.blind_batch([b"samenloop:v1:person\\x00123456782"])   # doctest: +SKIP
    >>> outputs = client.finalize(batch, evaluated_wire, proof_wire)      # doctest: +SKIP
    """

    __slots__ = ("_pk",)

    def __init__(self, pinned_public_key: Element | bytes) -> None:
        if isinstance(pinned_public_key, Element):
            self._pk = pinned_public_key
        else:
            self._pk = deserialize_element(pinned_public_key)

    @property
    def key_id(self) -> str:
        return public_key_id(self._pk)

    def blind_batch(self, inputs: Sequence[bytes], rng: RandomScalar | None = None) -> BlindedBatch:
        if not inputs or len(inputs) > MAX_BATCH:
            raise CryptoError(f"a batch holds 1..{MAX_BATCH} inputs, got {len(inputs)}")
        pairs = [blind(x, rng) for x in inputs]
        return BlindedBatch(
            tuple(bytes(x) for x in inputs),
            tuple(p[0] for p in pairs),
            tuple(p[1] for p in pairs),
        )

    def finalize(
        self, batch: BlindedBatch, evaluated_elements: Sequence[bytes], proof: bytes
    ) -> list[bytes]:
        """Verify the batch proof against the pinned key, then return the 64-byte outputs.

        Raises `InvalidElement` for a malformed evaluated element and `InvalidProof` naming the
        pinned key id when the evaluator did not use that key (or altered any element).
        """
        if len(evaluated_elements) != len(batch.inputs):
            raise InvalidProof(
                f"evaluator returned {len(evaluated_elements)} elements for a batch of "
                f"{len(batch.inputs)}"
            )
        evaluated = [deserialize_element(d) for d in evaluated_elements]
        parsed_proof = deserialize_proof(proof)
        try:
            return finalize(
                batch.inputs,
                batch.blinds,
                evaluated,
                batch.blinded_elements,
                self._pk,
                parsed_proof,
            )
        except InvalidProof:
            raise InvalidProof(
                f"batch proof does not verify against the pinned pseudonymiser key {self.key_id}"
            ) from None


class VoprfServer:
    """The pseudonymiser's evaluator: bytes in, evaluated bytes and one proof out."""

    __slots__ = ("_pk", "_sk")

    def __init__(self, sk: Scalar) -> None:
        self._sk = sk
        self._pk = scalar_mult_base(sk)

    @property
    def public_key(self) -> Element:
        return self._pk

    @property
    def key_id(self) -> str:
        return public_key_id(self._pk)

    def evaluate_batch(self, blinded_elements: Sequence[bytes]) -> tuple[list[bytes], bytes]:
        """Deserialise (refusing identity / non-canonical), evaluate, prove. Returns (D, proof)."""
        blinded = [deserialize_element(c) for c in blinded_elements]
        result = blind_evaluate(self._sk, self._pk, blinded)
        assert result.proof is not None
        return [d.to_bytes() for d in result.evaluated_elements], result.proof.to_bytes()

    def __repr__(self) -> str:
        return f"VoprfServer({self.key_id})"
