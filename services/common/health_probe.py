"""`python -m services.common.health_probe`: the container's HEALTHCHECK (standard library only).

Asks the service's plaintext health port (`health.bind` in its configuration) for /healthz and
exits 0 when it answers 200, 1 otherwise, with one line saying why. The port is read from
SAMENLOOP_HEALTH_PORT (default 8081), the path from SAMENLOOP_HEALTH_PATH (default /healthz).
"""

from __future__ import annotations

import http.client
import os
import sys

DEFAULT_PORT = 8081


def probe(port: int, path: str = "/healthz", timeout: float = 3.0) -> str | None:
    """None when the service answered 200, else what went wrong (one line)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        status = conn.getresponse().status
    except OSError as exc:
        return (f"no answer on 127.0.0.1:{port}{path} ({exc.strerror or exc}); is `health.bind` "
                "set in the service's configuration?")
    finally:
        conn.close()
    return None if status == 200 else f"127.0.0.1:{port}{path} answered {status}"


def main() -> int:
    raw = os.environ.get("SAMENLOOP_HEALTH_PORT", str(DEFAULT_PORT))
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        print(f"SAMENLOOP_HEALTH_PORT={raw!r} is not a port number", file=sys.stderr)
        return 1
    problem = probe(int(raw), os.environ.get("SAMENLOOP_HEALTH_PATH", "/healthz"))
    if problem is not None:
        print(problem, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
