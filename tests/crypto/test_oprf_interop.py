"""Interoperability with an independent RFC 9497 implementation: the `voprf` package (Rust).

Our client against its evaluator, and its client against our evaluator, must produce the same
64-byte outputs as direct evaluation on both sides. Its wire format for a batch response is the
64-byte proof (c || s) followed by the evaluated elements.
"""

from __future__ import annotations

import pytest

from crypto import oprf

ristretto = pytest.importorskip("voprf.ristretto", reason="the voprf package (dev extra) is needed")

SEED = bytes(range(32))
INFO = b"samenloop interop key"
INPUTS = [b"samenloop:v1:person\x00123456782", b"samenloop:v1:household\x001234AB|12|A|", b"\x00"]


def test_derived_keys_agree() -> None:
    _, pk = oprf.derive_key_pair(SEED, INFO)
    theirs = ristretto.Evaluator.from_seed(SEED, INFO)
    assert theirs.public_key.serialize() == pk.to_bytes()


def test_our_client_against_their_evaluator() -> None:
    evaluator = ristretto.Evaluator.from_seed(SEED, INFO)
    client = oprf.VoprfClient(evaluator.public_key.serialize())
    batch = client.blind_batch(INPUTS)
    response = evaluator.evaluate_batch(
        [ristretto.BlindedInput.deserialize(c) for c in batch.wire()]
    ).serialize()
    proof, rest = response[:64], response[64:]
    evaluated = [rest[i : i + 32] for i in range(0, len(rest), 32)]
    outputs = client.finalize(batch, evaluated, proof)
    assert outputs == [evaluator.evaluate_known_input(x) for x in INPUTS]


def test_their_client_against_our_evaluator() -> None:
    sk, pk = oprf.derive_key_pair(SEED, INFO)
    server = oprf.VoprfServer(sk)
    clients, blinded = zip(*(ristretto.Client.blind(x) for x in INPUTS), strict=True)
    evaluated, proof = server.evaluate_batch([b.serialize() for b in blinded])
    response = ristretto.VerifiableBatchOutput.deserialize(proof + b"".join(evaluated))
    outputs = ristretto.Client.finalize_batch(
        list(clients), response, ristretto.PublicKey.deserialize(pk.to_bytes())
    )
    assert list(outputs) == [oprf.evaluate(sk, x) for x in INPUTS]


def test_their_client_rejects_our_proof_under_another_key() -> None:
    sk, _ = oprf.derive_key_pair(SEED, INFO)
    _, other_pk = oprf.generate_key_pair()
    client, blinded = ristretto.Client.blind(b"x")
    evaluated, proof = oprf.VoprfServer(sk).evaluate_batch([blinded.serialize()])
    response = ristretto.VerifiableBatchOutput.deserialize(proof + evaluated[0])
    # The binding reports a failed verification as a Rust panic (pyo3 PanicException, a
    # BaseException), naming the error variant.
    with pytest.raises(BaseException, match="ProofVerification"):
        ristretto.Client.finalize_batch(
            [client], response, ristretto.PublicKey.deserialize(other_pk.to_bytes())
        )


def test_single_element_evaluation_matches() -> None:
    sk, _ = oprf.derive_key_pair(SEED, INFO)
    evaluator = ristretto.Evaluator.from_seed(SEED, INFO)
    for x in INPUTS:
        assert oprf.evaluate(sk, x) == evaluator.evaluate_known_input(x)
