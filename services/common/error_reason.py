"""A machine-readable reason on a gRPC error: `google.rpc.ErrorInfo` in the status (AIP-193).

A status code alone does not tell a client what to do: a FAILED_PRECONDITION from
SubmitDisclosure may mean "this reveal request is closed, go on with the next one" or "your
disclosure key is not registered, nothing you seal will be accepted". The server puts a stable
UPPER_SNAKE_CASE `reason` (documented in the proto next to the RPC) into the richer error model
gRPC carries in the `grpc-status-details-bin` trailer; the client reads it back with
`reason_of`. The human message stays one line for people, the reason is for code.
"""

from __future__ import annotations

from typing import Final, NoReturn

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

DOMAIN: Final = "samenloop.v1"
"""ErrorInfo.domain of every reason samenloop servers send."""
DETAILS_KEY: Final = "grpc-status-details-bin"

# The reasons (proto comments on each RPC say which it may send).
REVEAL_REQUEST_CLOSED: Final = "REVEAL_REQUEST_CLOSED"
"""SubmitDisclosure: the request was cancelled (its signal withdrawn, its alert closed) or
expired; no answer is expected any more."""
DISCLOSURE_KEY_NOT_REGISTERED: Final = "DISCLOSURE_KEY_NOT_REGISTERED"
"""SubmitDisclosure: the partner has no registered disclosure key, so a sealed box from it
cannot be verified and is refused."""


def abort(context: grpc.ServicerContext, code: grpc.StatusCode, message: str,
          reason: str) -> NoReturn:
    """End the call with `code`, `message` and an ErrorInfo naming `reason`."""
    info = any_pb2.Any()
    info.Pack(error_details_pb2.ErrorInfo(reason=reason, domain=DOMAIN))
    status = status_pb2.Status(code=code.value[0], message=message, details=[info])
    context.set_trailing_metadata(((DETAILS_KEY, status.SerializeToString()),))
    context.abort(code, message)
    raise AssertionError("unreachable: abort raises")  # for type checkers


def reason_of(error: grpc.RpcError) -> str | None:
    """The ErrorInfo reason a samenloop server attached to `error`, if any."""
    trailers = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None
    for item in trailers or ():
        pair: tuple[str, object] = tuple(item)  # type: ignore[arg-type, assignment]
        key, value = pair
        if key != DETAILS_KEY or not isinstance(value, bytes):
            continue
        status = status_pb2.Status()
        try:
            status.ParseFromString(value)
        except Exception:
            return None
        for detail in status.details:
            info = error_details_pb2.ErrorInfo()
            if detail.Unpack(info) and info.domain == DOMAIN:
                return str(info.reason)
    return None
