"""What every servicer shares: the caller, error mapping, timestamps, enum names."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

import grpc
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from services.common import error_reason
from services.common.authz import RefusalHook
from services.common.db import is_unavailable
from services.common.identity import UnauthenticatedPeer, peer_identity
from services.common.logging import get_logger
from services.matcher.audit_catalogue import PERMISSION_DENIED
from services.matcher.clock import to_utc_aware
from services.matcher.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    MatcherError,
    NotFound,
    OutOfRange,
    PermissionDenied,
    ResourceExhausted,
    Unavailable,
)
from services.matcher.validation import PseudonymIn
from services.matcher.views import Caller

F = TypeVar("F", bound=Callable[..., Any])

_CODES: dict[type[MatcherError], grpc.StatusCode] = {
    InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    NotFound: grpc.StatusCode.NOT_FOUND,
    PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
    Unavailable: grpc.StatusCode.UNAVAILABLE,
    OutOfRange: grpc.StatusCode.OUT_OF_RANGE,
}



def traceparent(context: grpc.ServicerContext) -> str:
    """The W3C `traceparent` the caller sent, whatever its sampled flag ("" if none)."""
    for key, value in context.invocation_metadata() or ():
        if key == "traceparent" and isinstance(value, str):
            return value
    return ""


def caller(context: grpc.ServicerContext) -> Caller:
    try:
        who = peer_identity(context)
    except UnauthenticatedPeer:
        context.abort(grpc.StatusCode.UNAUTHENTICATED, "a client certificate is required")
        raise  # unreachable: abort raises
    return Caller(who.organisation, who.role, traceparent(context))


def _known_caller(context: grpc.ServicerContext) -> Caller:
    """The caller for an audit entry, without aborting (an unknown peer has no identity)."""
    try:
        who = peer_identity(context)
    except UnauthenticatedPeer:
        return Caller("", "", traceparent(context))
    return Caller(who.organisation, who.role, traceparent(context))


def refusal_hook(matcher: Any) -> RefusalHook:
    """The authorization interceptor's hook: a `call_refused` entry per refused call."""

    def hook(context: grpc.ServicerContext, method: str, code: str) -> None:
        matcher.record_refused_call(_known_caller(context), method, code)

    return hook


def _method(servicer: Any, fn: Callable[..., Any]) -> str:
    """`PolicyService/PublishPolicy` for a servicer method."""
    return f"{type(servicer).__name__.removesuffix('Servicer')}Service/{fn.__name__}"


def _audit_outcome(servicer: Any, context: grpc.ServicerContext, fn: Callable[..., Any],
                   exc: BaseException | None) -> None:
    """`call_refused` for a refusal of authority not yet audited, `call_failed` for an
    internal error (exc None). Never raises: the caller's answer does not depend on it."""
    matcher = getattr(servicer, "matcher", None)
    if matcher is None:
        return
    try:
        if exc is None:
            matcher.record_failed_call(_known_caller(context), _method(servicer, fn))
        elif isinstance(exc, PermissionDenied) and not exc.audited:
            matcher.record_refused_call(_known_caller(context), _method(servicer, fn),
                                        exc.refusal or PERMISSION_DENIED)
    except Exception:
        get_logger(component="matcher").exception("audit_of_refusal_failed",
                                                  method=fn.__name__)


def _abort(context: grpc.ServicerContext, exc: MatcherError, method: str) -> None:
    """Answer a refusal, and log it: the method, the status and the caller, never the message
    (which may quote what the caller sent)."""
    code = next((_CODES[k] for k in type(exc).__mro__ if k in _CODES),
                grpc.StatusCode.INTERNAL)
    try:
        who = peer_identity(context)
        by = {"organisation": who.organisation, "role": who.role}
    except UnauthenticatedPeer:
        by = {}
    get_logger(component="matcher").info("rpc_refused", method=method, code=code.name, **by)
    if exc.reason:
        error_reason.abort(context, code, str(exc), exc.reason)
    context.abort(code, str(exc))


def _abort_database_unavailable(context: grpc.ServicerContext, method: str,
                                exc: BaseException) -> None:
    """The database is down or restarting: UNAVAILABLE, which clients retry with backoff.

    The transaction rolled back (or, if the connection broke during COMMIT, may have landed);
    every write RPC is idempotent on its ids, so the retry is safe either way. The log names
    the driver's error class and SQLSTATE only (a message could quote a value).
    """
    orig = getattr(exc, "orig", None) or exc
    get_logger(component="matcher").warning(
        "database_unavailable", method=method, error=type(orig).__name__,
        sqlstate=getattr(orig, "sqlstate", None))
    context.abort(grpc.StatusCode.UNAVAILABLE,
                  "the matcher's database is unavailable; retry with backoff")


def handle(fn: F) -> F:
    """Map core errors to status codes; a database outage is UNAVAILABLE; anything else
    unexpected is INTERNAL without details.
    Refusals of authority and internal errors are audited (`refusals.py`)."""

    @functools.wraps(fn)
    def unary(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return fn(self, request, context)
        except MatcherError as exc:
            _audit_outcome(self, context, fn, exc)
            _abort(context, exc, fn.__name__)
        except Exception as exc:
            if getattr(context, "code", lambda: None)() is not None:  # abort() already set it
                raise
            if is_unavailable(exc):
                _abort_database_unavailable(context, fn.__name__, exc)
            get_logger(component="matcher").exception("rpc_failed", method=fn.__name__)
            _audit_outcome(self, context, fn, None)
            context.abort(grpc.StatusCode.INTERNAL, "internal error; see the matcher's log")

    return unary  # type: ignore[return-value]


def handle_stream(fn: F) -> F:
    @functools.wraps(fn)
    def streaming(self: Any, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        try:
            yield from fn(self, request, context)
        except MatcherError as exc:
            _audit_outcome(self, context, fn, exc)
            _abort(context, exc, fn.__name__)
        except Exception as exc:
            if is_unavailable(exc) and getattr(context, "code", lambda: None)() is None:
                _abort_database_unavailable(context, fn.__name__, exc)
            raise

    return streaming  # type: ignore[return-value]


def timestamp(moment: datetime | None) -> Timestamp | None:
    if moment is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(to_utc_aware(moment))
    return ts


def pseudonym_in(message: Any, field: str) -> PseudonymIn | None:
    """The optional Pseudonym sub-message `field` of `message` as plain values."""
    if not message.HasField(field):
        return None
    p = getattr(message, field)
    return PseudonymIn(bytes(p.voprf_output), str(p.key_id))


MAX_DURATION_SECONDS = 315_576_000_000
"""google.protobuf.Duration's range: about 10,000 years either way."""


def duration_seconds(value: Duration, field: str) -> float:
    """A Duration as seconds; `InvalidArgument` outside the range the type defines (where
    `ToTimedelta` would raise an OverflowError, which was an INTERNAL error; found by fuzzing)."""
    seconds, nanos = int(value.seconds), int(value.nanos)
    if (abs(seconds) > MAX_DURATION_SECONDS or abs(nanos) > 999_999_999
            or (seconds and nanos and (seconds < 0) != (nanos < 0))):
        raise InvalidArgument(f"{field} is not a valid google.protobuf.Duration")
    return seconds + nanos / 1e9


MIN_TIMESTAMP_SECONDS, MAX_TIMESTAMP_SECONDS = -62_135_596_800, 253_402_300_799
"""google.protobuf.Timestamp's range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z."""


def timestamp_value(value: Timestamp, field: str) -> datetime:
    """A Timestamp as a naive UTC datetime; `InvalidArgument` outside the range or with nanos
    outside 0..999,999,999 (where `ToDatetime` raised ValueError, an INTERNAL error; found by
    fuzzing)."""
    if not (MIN_TIMESTAMP_SECONDS <= value.seconds <= MAX_TIMESTAMP_SECONDS
            and 0 <= value.nanos <= 999_999_999):
        raise InvalidArgument(f"{field} is not a valid google.protobuf.Timestamp")
    return value.ToDatetime(tzinfo=UTC).replace(tzinfo=None)


def deadline_seconds(context: grpc.ServicerContext, wanted: float) -> float:
    """`wanted`, but never past the caller's deadline (less a small margin)."""
    remaining = context.time_remaining()
    if remaining is None:
        return wanted
    return max(0.0, min(wanted, remaining - 0.5))
