"""RFC 9497 ristretto255-SHA512 vectors, modes 0 (OPRF) and 1 (VOPRF), single and batch."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from crypto import oprf
from crypto.ristretto import Scalar
from tests.crypto._vectors import hex_list, load
from tests.support.vectors import require_shared_vectors

SUITES: list[dict[str, Any]] = load("rfc9497_ristretto255_sha512.json")["suites"]
CASES = [
    pytest.param(suite, vector, id=f"mode{suite['mode']}-{i}-batch{vector['Batch']}")
    for suite in SUITES
    for i, vector in enumerate(suite["vectors"])
]


def _scalars(values: list[bytes]) -> Iterator[Scalar]:
    return iter(Scalar.from_bytes(v) for v in values)


def test_all_mode_0_and_1_vectors_are_carried() -> None:
    assert sorted(s["mode"] for s in SUITES) == [0, 1]
    assert sum(len(s["vectors"]) for s in SUITES) == 5


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: f"mode{s['mode']}")
def test_derive_key_pair(suite: dict[str, Any]) -> None:
    sk, pk = oprf.derive_key_pair(
        bytes.fromhex(suite["seed"]),
        bytes.fromhex(suite["keyInfo"]),
        mode=oprf.OprfMode(suite["mode"]),
    )
    assert sk.to_bytes().hex() == suite["skSm"]
    if "pkSm" in suite:
        assert pk.to_bytes().hex() == suite["pkSm"]


@pytest.mark.parametrize(("suite", "vector"), CASES)
def test_protocol_vector(suite: dict[str, Any], vector: dict[str, Any]) -> None:
    mode = oprf.OprfMode(suite["mode"])
    sk = Scalar.from_bytes(bytes.fromhex(suite["skSm"]))
    pk = oprf.public_key(sk)
    inputs = hex_list(vector["Input"])
    assert len(inputs) == vector["Batch"]
    blind_source = _scalars(hex_list(vector["Blind"]))

    blinds, blinded = [], []
    for x in inputs:
        r, c = oprf.blind(x, rng=blind_source.__next__, mode=mode)
        blinds.append(r)
        blinded.append(c)
    assert [oprf.serialize_element(c) for c in blinded] == hex_list(vector["BlindedElement"])

    nonce = _scalars([bytes.fromhex(vector["Proof"]["r"])] if "Proof" in vector else [])
    result = oprf.blind_evaluate(sk, pk, blinded, rng=nonce.__next__, mode=mode)
    assert [e.to_bytes() for e in result.evaluated_elements] == hex_list(
        vector["EvaluationElement"]
    )
    if mode is oprf.OprfMode.VOPRF:
        assert result.proof is not None
        assert oprf.serialize_proof(result.proof).hex() == vector["Proof"]["proof"]
    else:
        assert result.proof is None

    # The client side works from the wire bytes, as a gateway does.
    evaluated = [oprf.deserialize_element(b) for b in hex_list(vector["EvaluationElement"])]
    proof = (
        oprf.deserialize_proof(bytes.fromhex(vector["Proof"]["proof"]))
        if "Proof" in vector
        else None
    )
    outputs = oprf.finalize(inputs, blinds, evaluated, blinded, pk, proof, mode=mode)
    assert outputs == hex_list(vector["Output"])
    assert [oprf.evaluate(sk, x, mode=mode) for x in inputs] == hex_list(vector["Output"])


def test_transcribed_vectors_match_the_shared_set() -> None:
    folder = require_shared_vectors("rfc9497")
    shared = json.loads((folder / "ristretto255-sha512.json").read_text())
    assert [s for s in shared if s["mode"] in (0, 1)] == SUITES


def test_every_shared_mode_0_and_1_vector_passes() -> None:
    folder = require_shared_vectors("rfc9497")
    shared = json.loads((folder / "ristretto255-sha512.json").read_text())
    checked = 0
    for suite in shared:
        if suite["mode"] not in (0, 1):
            continue  # POPRF (mode 2) is not implemented
        for vector in suite["vectors"]:
            test_protocol_vector(suite, vector)
            checked += 1
    assert checked == 5
