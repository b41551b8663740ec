"""Turn the errors people can act on into a one-line message and exit status 1.

Configuration, key-file, TLS, policy and database errors carry messages written for the
operator; a traceback would only hide them. A gRPC error names the status and the server's
explanation. Anything else is a bug and keeps its traceback. Every command group uses this one
boundary, so the same mistake reads the same way whichever command hit it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer


def _actionable() -> tuple[type[BaseException], ...]:
    from crypto.errors import CryptoError
    from policies.errors import PolicyError
    from services.common.config import ConfigError
    from services.common.db import DatabaseNotMigrated, DatabaseUnavailable
    from services.common.tls import TlsConfigError

    return (ConfigError, CryptoError, PolicyError, TlsConfigError, DatabaseNotMigrated,
            DatabaseUnavailable)


def _say(message: str) -> None:
    """`error: …` for each line (a configuration may have several problems, one line each)."""
    for line in message.splitlines() or [message]:
        typer.echo(f"error: {line}", err=True)


@contextmanager
def exit_with(code: int = 1, *, peer: str = "the server") -> Iterator[None]:
    """Report actionable errors as `error: …` on stderr and exit with `code`.

    `peer` names who answered a failed gRPC call (e.g. "the matcher").
    """
    import grpc

    try:
        yield
    except _actionable() as exc:
        _say(str(exc))
        raise typer.Exit(code) from None
    except OSError as exc:
        text = f"{exc.strerror}: {exc.filename}" if exc.strerror and exc.filename else str(exc)
        _say(text)
        raise typer.Exit(code) from None
    except grpc.RpcError as exc:
        from services.common.server_identity import ServerIdentityError

        if isinstance(exc, ServerIdentityError):  # said by this client, not by the server
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(code) from None
        status = exc.code() if hasattr(exc, "code") else None
        details = exc.details() if hasattr(exc, "details") else str(exc)
        name = status.name if status is not None else "UNKNOWN"
        if status is grpc.StatusCode.UNAVAILABLE:
            # No answer came: nothing listens there, the network is down, or TLS failed.
            _say(f"{peer} is unreachable ({_first_line(details)}); check that it is running "
                 "and the address you gave")
        elif status is grpc.StatusCode.DEADLINE_EXCEEDED:
            _say(f"{peer} did not answer in time; check that it is running and reachable")
        else:
            _say(f"{peer} answered {name}: {details}")
        raise typer.Exit(code) from None


def _first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0] if lines else "no details"
