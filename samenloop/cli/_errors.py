"""Turn the errors people can act on into a one-line message and exit status 1.

Configuration, key-file, TLS and database errors carry messages written for the operator; a
traceback would only hide them. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer


def _actionable() -> tuple[type[BaseException], ...]:
    from crypto.errors import CryptoError
    from services.common.config import ConfigError
    from services.common.db import DatabaseNotMigrated
    from services.common.tls import TlsConfigError

    return (ConfigError, CryptoError, TlsConfigError, DatabaseNotMigrated, OSError)


@contextmanager
def exit_with(code: int = 1) -> Iterator[None]:
    try:
        yield
    except _actionable() as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code) from None
