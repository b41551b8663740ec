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
    from services.common.db import DatabaseNotMigrated
    from services.common.tls import TlsConfigError

    return (ConfigError, CryptoError, PolicyError, TlsConfigError, DatabaseNotMigrated)


@contextmanager
def exit_with(code: int = 1, *, peer: str = "the server") -> Iterator[None]:
    """Report actionable errors as `error: …` on stderr and exit with `code`.

    `peer` names who answered a failed gRPC call (e.g. "the matcher").
    """
    import grpc

    try:
        yield
    except _actionable() as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code) from None
    except OSError as exc:
        text = f"{exc.strerror}: {exc.filename}" if exc.strerror and exc.filename else str(exc)
        typer.echo(f"error: {text}", err=True)
        raise typer.Exit(code) from None
    except grpc.RpcError as exc:
        from services.common.server_identity import ServerIdentityError

        if isinstance(exc, ServerIdentityError):  # said by this client, not by the server
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(code) from None
        status = exc.code() if hasattr(exc, "code") else None
        details = exc.details() if hasattr(exc, "details") else str(exc)
        name = status.name if status is not None else "UNKNOWN"
        typer.echo(f"error: {peer} answered {name}: {details}", err=True)
        raise typer.Exit(code) from None
