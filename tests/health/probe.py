"""A plain HTTP client for the health port, as a kubelet probe would use it."""

from __future__ import annotations

import http.client
import json
from typing import Any


def probe(port: int, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of one request to 127.0.0.1:`port`; no TLS, no certificate."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path)
        answer = conn.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        conn.close()


def checks(port: int, path: str) -> tuple[int, dict[str, Any]]:
    status, _headers, body = probe(port, path)
    return status, json.loads(body)["checks"]
