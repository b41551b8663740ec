"""Outbound connections of the gateway: mTLS channels, retries, and errors said in one line.

Transient gRPC failures (UNAVAILABLE, DEADLINE_EXCEEDED) are retried with exponential backoff
and full jitter; every retried call carries the same idempotency key (batch id, request id), so
a retry after a lost answer changes nothing at the server. A refused certificate is not
transient and is said as such. When the retries run out, `Unreachable` names the service, the
address and what to do; the caller keeps its journal, so running again resumes. Each retry is
logged (`peer_unavailable`: which peer, where, the status, the attempt), so an operator
watching a run sees what it is waiting for.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import grpc

from crypto.errors import CryptoError, InvalidProof
from services.common.error_reason import reason_of
from services.common.logging import get_logger
from services.common.server_identity import ServerIdentityError
from services.common.settings import DEFAULT_MAX_MESSAGE_BYTES
from services.common.tls import TlsMaterial, secure_channel
from services.pseudonymiser.client import PinnedKeyMismatch, PseudonymiserClient

T = TypeVar("T")

TRANSIENT = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})
_TLS_WORDS = ("handshake", "certificate", "ssl", "tls", "socket closed")
"""In an UNAVAILABLE from gRPC these mean the TLS session failed, not that nobody listens:
"Socket closed" is what a client sees when the server refuses its certificate (TLS 1.3)."""
_STREAM_BROKEN = "stream removed"
"""...unless the call was already under way: a server that dies or restarts mid-call gives
"Stream removed (Socket closed)". A refused certificate never gets that far (the connection
fails before the first stream), so this is transient and retried."""


class GatewayConnectionError(Exception):
    """A peer could not be used; the message is one line for the operator."""


class Unreachable(GatewayConnectionError):
    """Retries ran out on a transient error."""


class CertificateRefused(GatewayConnectionError):
    """The TLS handshake failed: a certificate was refused on one side."""


class PeerRefused(GatewayConnectionError):
    """The peer answered with a non-transient error (permission, invalid argument...).

    `reason` is the ErrorInfo reason the peer attached, if any (services/common/error_reason):
    what a program can act on, where `code` alone is ambiguous.
    """

    def __init__(self, message: str, code: grpc.StatusCode | None, reason: str | None = None
                 ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 7
    base_seconds: float = 0.25
    max_seconds: float = 15.0
    timeout_seconds: float = 60.0

    def delay(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max, base * 2^attempt)]."""
        return random.uniform(0, min(self.max_seconds, self.base_seconds * 2**attempt))  # noqa: S311


def _code(exc: grpc.RpcError) -> grpc.StatusCode | None:
    return exc.code() if hasattr(exc, "code") else None


def _details(exc: grpc.RpcError) -> str:
    text = exc.details() if hasattr(exc, "details") else str(exc)
    return " ".join(str(text or "").split())[:300]


def _is_tls_failure(exc: grpc.RpcError) -> bool:
    details = _details(exc).lower()
    return (_code(exc) is grpc.StatusCode.UNAVAILABLE and _STREAM_BROKEN not in details
            and any(w in details for w in _TLS_WORDS))


def call_with_retry(
    what: str,
    target: str,
    call: Callable[[], T],
    policy: RetryPolicy = RetryPolicy(),
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run `call`, retrying transient failures; raise a one-line `GatewayConnectionError`.

    `what` names the peer for people ("the matcher"), `target` its address.
    """
    last: grpc.RpcError | None = None
    for attempt in range(policy.attempts):
        try:
            return call()
        except grpc.RpcError as exc:
            code = _code(exc)
            if isinstance(exc, ServerIdentityError) and code not in TRANSIENT:
                raise CertificateRefused(f"{what}: {_details(exc)}") from None
            if _is_tls_failure(exc):
                raise CertificateRefused(
                    f"{what} at {target} refused the TLS connection, probably this gateway's "
                    f"certificate ({_details(exc)}); check that tls.cert is issued by the "
                    "deployment CA, is not expired or on a deny-list, and that tls.ca is that CA"
                ) from None
            if code not in TRANSIENT:
                name = code.name if code is not None else "UNKNOWN"
                raise PeerRefused(f"{what} at {target} answered {name}: {_details(exc)}",
                                  code, reason_of(exc)) from None
            last = exc
            if attempt + 1 < policy.attempts:
                delay = policy.delay(attempt)
                get_logger().warning(
                    "peer_unavailable", peer=what.removeprefix("the "), target=target,
                    code=code.name if code is not None else "UNKNOWN", attempt=attempt + 1,
                    attempts=policy.attempts, retry_in_seconds=round(delay, 2))
                sleep(delay)
    assert last is not None
    code = _code(last)
    raise Unreachable(
        f"{what} at {target} is unreachable ({code.name if code else 'UNAVAILABLE'} after "
        f"{policy.attempts} attempts: {_details(last)}); nothing was lost: run the same command "
        "again when it is back"
    )


def channel(target: str, tls: TlsMaterial, server_role: str,
            max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> grpc.Channel:
    """An mTLS channel that talks only to a samenloop server of `server_role` (ADR 0003), and
    sends and accepts messages up to `max_message_bytes` (ADR 0028)."""
    return secure_channel(target, tls, server_role=server_role,
                          max_message_bytes=max_message_bytes)


class RetryingPseudonymiserClient(PseudonymiserClient):
    """The shared VOPRF client (proof verified against the pinned key) with gateway retries."""

    def __init__(self, channel: grpc.Channel, pinned_public_key: bytes, target: str,
                 policy: RetryPolicy = RetryPolicy()) -> None:
        super().__init__(channel, pinned_public_key, timeout_seconds=policy.timeout_seconds)
        self._target = target
        self._policy = policy

    def _call(self, method, request):  # type: ignore[no-untyped-def, override]
        return call_with_retry(
            "the pseudonymiser", self._target,
            lambda: method(request, timeout=self._policy.timeout_seconds), self._policy)

    def evaluate_all(self, inputs: Sequence[bytes], request_id: str) -> list[bytes]:
        """VOPRF outputs for `inputs`; a key or proof mismatch becomes a one-line error."""
        try:
            return self.evaluate(inputs, request_id=request_id)
        except PinnedKeyMismatch as exc:
            raise GatewayConnectionError(str(exc)) from None
        except (InvalidProof, CryptoError) as exc:
            raise GatewayConnectionError(f"the pseudonymiser's answer is invalid: {exc}") from None
