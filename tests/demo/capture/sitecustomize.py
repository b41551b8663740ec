"""Test-only: record every request message the matcher receives, through a gRPC interceptor.

Put this folder on PYTHONPATH and set SAMENLOOP_TEST_CAPTURE=FILE for `samenloop demo`: every
process imports it at start-up, and in the `matcher serve` process only it adds an interceptor
to `grpc.server` that appends, per request message, the method and every text value in it
(string fields, and bytes fields that are UTF-8 text) to FILE. tests/demo scans FILE for the
input's identities. Nothing here is imported by the product.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
from typing import Any

_TARGET = os.environ.get("SAMENLOOP_TEST_CAPTURE")


def _texts(message: Any) -> list[str]:
    out: list[str] = []
    for field, value in message.ListFields():
        values = value if field.label == field.LABEL_REPEATED else [value]
        for item in values:
            if hasattr(item, "ListFields"):
                out.extend(_texts(item))
            elif isinstance(item, str):
                out.append(item)
            elif isinstance(item, bytes):
                with contextlib.suppress(UnicodeDecodeError):
                    out.append(item.decode("utf-8"))
            else:
                out.append(str(item))
    return out


def _install(target: str) -> None:
    import grpc

    lock = threading.Lock()

    def record(method: str, message: Any) -> None:
        line = json.dumps({"method": method, "texts": _texts(message)}, ensure_ascii=False)
        with lock, open(target, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")

    class Capture(grpc.ServerInterceptor):  # type: ignore[misc]
        def intercept_service(self, continuation: Any, details: Any) -> Any:
            handler = continuation(details)
            if handler is None:
                return None
            method = details.method

            def unary(behaviour: Any) -> Any:
                def wrapped(request: Any, context: Any) -> Any:
                    record(method, request)
                    return behaviour(request, context)
                return wrapped

            def streaming(behaviour: Any) -> Any:
                def wrapped(requests: Any, context: Any) -> Any:
                    def each() -> Any:
                        for request in requests:
                            record(method, request)
                            yield request
                    return behaviour(each(), context)
                return wrapped

            if handler.unary_unary:
                return handler._replace(unary_unary=unary(handler.unary_unary))
            if handler.unary_stream:
                return handler._replace(unary_stream=unary(handler.unary_stream))
            if handler.stream_unary:
                return handler._replace(stream_unary=streaming(handler.stream_unary))
            if handler.stream_stream:
                return handler._replace(stream_stream=streaming(handler.stream_stream))
            return handler

    original = grpc.server

    def server(*args: Any, **kwargs: Any) -> Any:
        kwargs["interceptors"] = [Capture(), *(kwargs.get("interceptors") or [])]
        return original(*args, **kwargs)

    grpc.server = server


if _TARGET and sys.argv[1:3] == ["matcher", "serve"]:  # python -m samenloop.cli.main matcher serve
    _install(_TARGET)
