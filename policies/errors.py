"""The exceptions of the `policies` package; one base type for a service boundary."""

from __future__ import annotations

from collections.abc import Sequence

from policies.findings import LintFinding


class PolicyError(Exception):
    """Base class of every error raised by `policies`."""


class PolicySyntaxError(PolicyError):
    """The file is not readable YAML, or uses YAML features a policy may not use."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message if line is None else f"line {line}: {message}")
        self.line = line
        self.reason = message


class PolicyInvalid(PolicyError):
    """The document does not satisfy the policy schema (or, from `lint`, the semantic checks)."""

    def __init__(self, findings: Sequence[LintFinding]) -> None:
        self.findings = tuple(findings)
        first = self.findings[0].render() if self.findings else "invalid policy"
        more = f" (and {len(self.findings) - 1} more)" if len(self.findings) > 1 else ""
        super().__init__(first + more)


class TrustFileError(PolicyError):
    """The officer trust file is missing, malformed, or lists one key twice."""


class ApprovalError(PolicyError):
    """An approval cannot be made or is malformed (not: a signature that fails to verify, which
    `verify_approvals` reports as a reason rather than raising)."""
