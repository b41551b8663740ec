"""Errors the matcher's core raises; the servicers map each to one gRPC status code."""

from __future__ import annotations


class MatcherError(Exception):
    """Base class. Messages are fit for the caller: ids, codes and counts, no personal data.

    `reason`, when set, is a stable code the caller's program can act on (sent as
    google.rpc.ErrorInfo, services/common/error_reason.py); the proto documents each one.
    `refusal` is what the audit log records about a refusal of authority (a code, never the
    message; `call_refused`), and `audited` says the use case already wrote the refusal's entry.
    """

    def __init__(self, message: str = "", *, reason: str = "", refusal: str = "",
                 audited: bool = False) -> None:
        super().__init__(message)
        self.reason = reason
        self.refusal = refusal
        self.audited = audited


class InvalidArgument(MatcherError):
    pass


class NotFound(MatcherError):
    pass


class PermissionDenied(MatcherError):
    pass


class FailedPrecondition(MatcherError):
    pass


class AlreadyExists(MatcherError):
    pass


class ResourceExhausted(MatcherError):
    pass


class Unavailable(MatcherError):
    """Something the action depends on did not answer; the action was not done (retry)."""


class LogboekUnavailable(Unavailable):
    """The external Logboek did not acknowledge the audit entries; the transaction rolled
    back, so the action did not happen."""


class OutOfRange(MatcherError):
    """A position beyond what exists yet (a leaf or tree size past the latest checkpoint)."""
