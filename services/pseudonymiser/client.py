"""The gateway's side of pseudonymisation: blind, ask the pseudonymiser, verify, unblind.

The gateway pins the pseudonymiser's public key in its configuration. Every batch proof is
verified against that pinned key, so a pseudonymiser that evaluates one partner under another
key (to split or link partners' pseudonyms) is caught: `PinnedKeyMismatch` names both keys.

`PseudonymiserClient.connect` opens the channel with the server check of
`services.common.tls.secure_channel`: before the first blinded element leaves, the server's
certificate must have role `pseudonymiser` (and the configured organisation, if any).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TypeVar

import grpc

from crypto.errors import CryptoError, InvalidProof
from crypto.oprf import VoprfClient
from samenloop.v1 import pseudonymiser_pb2, pseudonymiser_pb2_grpc
from services.common.tls import TlsMaterial, secure_channel

Req = TypeVar("Req")
Resp = TypeVar("Resp")


class PseudonymiserError(Exception):
    """The pseudonymiser refused or failed; the message says why and what to do."""


class PinnedKeyMismatch(PseudonymiserError):
    """The pseudonymiser's key (or its proof) does not match the key the gateway pinned."""


class PseudonymiserClient:
    """Evaluate VOPRF outputs for a list of (domain-separated) inputs, in batches."""

    def __init__(
        self,
        channel: grpc.Channel,
        pinned_public_key: bytes,
        *,
        timeout_seconds: float = 30.0,
    ) -> None:
        self._stub = pseudonymiser_pb2_grpc.PseudonymiserStub(channel)
        self._voprf = VoprfClient(pinned_public_key)
        self._pinned = bytes(pinned_public_key)
        self._pinned_id = self._voprf.key_id
        self._timeout = timeout_seconds
        self._max_batch: int | None = None

    @classmethod
    def connect(
        cls,
        target: str,
        material: TlsMaterial,
        pinned_public_key: bytes,
        *,
        organisation: str | None = None,
        server_name: str | None = None,
        timeout_seconds: float = 30.0,
    ) -> PseudonymiserClient:
        """A client on an mTLS channel that talks only to a server with role pseudonymiser."""
        channel = secure_channel(target, material, server_role="pseudonymiser",
                                 server_organisation=organisation, server_name=server_name)
        return cls(channel, pinned_public_key, timeout_seconds=timeout_seconds)

    @property
    def key_id(self) -> str:
        return self._pinned_id

    def check_key(self) -> pseudonymiser_pb2.PublicKeyInfo:
        """Fetch the served key and refuse to go on if it is not the pinned one."""
        info = self._call(self._stub.GetPublicKey, pseudonymiser_pb2.GetPublicKeyRequest())
        if info.public_key != self._pinned:
            raise PinnedKeyMismatch(
                f"the pseudonymiser serves key {info.key_id}, but this gateway pinned "
                f"{self._pinned_id}; nothing was pseudonymised. If the key was rotated on "
                "purpose, update `pseudonymiser.public_key` in the gateway configuration"
            )
        self._max_batch = info.max_batch_size
        return info

    def evaluate(self, inputs: Sequence[bytes], *, request_id: str | None = None) -> list[bytes]:
        """The 64-byte VOPRF output for every input, in order."""
        if self._max_batch is None:
            self.check_key()
        assert self._max_batch is not None
        outputs: list[bytes] = []
        base = request_id or uuid.uuid4().hex
        for number, start in enumerate(range(0, len(inputs), self._max_batch)):
            chunk = inputs[start : start + self._max_batch]
            outputs.extend(self._evaluate_batch(chunk, f"{base}/{number}"))
        return outputs

    def _evaluate_batch(self, inputs: Sequence[bytes], request_id: str) -> list[bytes]:
        batch = self._voprf.blind_batch(inputs)
        response = self._call(
            self._stub.BlindEvaluate,
            pseudonymiser_pb2.BlindEvaluateRequest(
                key_id=self._pinned_id, blinded_elements=batch.wire(), request_id=request_id
            ),
        )
        try:
            return self._voprf.finalize(
                batch, list(response.evaluated_elements), response.proof
            )
        except InvalidProof:
            raise PinnedKeyMismatch(
                f"the pseudonymiser's batch proof does not verify against the pinned key "
                f"{self._pinned_id} (it answered as {response.key_id}): it evaluated with "
                "another key. Nothing was pseudonymised; report this to the privacy officer"
            ) from None
        except CryptoError as exc:
            raise PseudonymiserError(f"the pseudonymiser's answer is malformed: {exc}") from None

    def _call(self, method: grpc.UnaryUnaryMultiCallable[Req, Resp], request: Req) -> Resp:
        try:
            return method(request, timeout=self._timeout, wait_for_ready=True)
        except grpc.RpcError as exc:
            code = exc.code() if hasattr(exc, "code") else None
            detail = exc.details() if hasattr(exc, "details") else str(exc)
            raise PseudonymiserError(
                f"pseudonymiser call failed ({code.name if code else 'error'}): {detail}"
            ) from None
