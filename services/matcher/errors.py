"""Errors the matcher's core raises; the servicers map each to one gRPC status code."""

from __future__ import annotations


class MatcherError(Exception):
    """Base class. Messages are fit for the caller: ids, codes and counts, no personal data."""


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
