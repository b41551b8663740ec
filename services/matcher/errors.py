"""Errors the matcher's core raises; the servicers map each to one gRPC status code."""

from __future__ import annotations


class MatcherError(Exception):
    """Base class. Messages are fit for the caller: ids, codes and counts, no personal data.

    `reason`, when set, is a stable code the caller's program can act on (sent as
    google.rpc.ErrorInfo, services/common/error_reason.py); the proto documents each one.
    """

    def __init__(self, message: str, *, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason


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
