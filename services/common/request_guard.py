"""Requests that are too large or not a protobuf message: refused with a clear status, and
logged (ADR 0028).

Two refusals happen in gRPC itself, before any samenloop code runs, and neither is logged:

- a message larger than the server's `max_message_bytes` is refused by the C core with
  RESOURCE_EXHAUSTED ("Received message larger than max (N vs. M)");
- bytes that do not parse as the request message become INTERNAL "Exception deserializing
  request!", which reads as a fault of the server.

This interceptor, the outermost on every server (`services.common.server`), receives the
request itself: a unary request is served as a client-streaming call, which is the same on the
wire, so the handler learns when the single message never arrived. Then:

- a request that does not arrive because the core refused it is logged as `request_refused`
  with `reason="too_large"` and the limit (an upload the client abandoned, or a hand-made call
  without its message, looks the same to the server and is logged the same way);
- bytes that are not the request message are refused with INVALID_ARGUMENT "the request is not
  a valid <Message>" and logged with `reason="malformed"`.

What is logged: the method, the caller's organisation and role from its certificate, the
reason and the limit. Never the request's content.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import grpc

from services.common.identity import UnauthenticatedPeer, peer_identity
from services.common.logging import get_logger

__all__ = ["RequestGuard"]


class _Malformed:
    """What the parser gives for bytes that are not the request message."""

    def __init__(self, size: int) -> None:
        self.size = size



class RequestGuard(grpc.ServerInterceptor):  # type: ignore[misc,type-arg]
    """Refuses and logs oversized and malformed requests (see the module doc)."""

    def __init__(self, max_message_bytes: int) -> None:
        self._limit = max_message_bytes

    def intercept_service(self, continuation: Callable[[Any], Any],
                          handler_call_details: Any) -> Any:
        handler = continuation(handler_call_details)
        if handler is None or not (handler.unary_unary or handler.unary_stream):
            return handler
        method: str = handler_call_details.method
        parse = handler.request_deserializer
        message = getattr(getattr(parse, "__self__", None), "DESCRIPTOR", None)
        name = getattr(message, "name", "request message")

        def deserialize(data: bytes) -> Any:
            try:
                return parse(data) if parse is not None else data
            except Exception:  # DecodeError, or anything else a parser raises on bad bytes
                return _Malformed(len(data))

        def receive(requests: Iterator[Any], context: grpc.ServicerContext) -> Any:
            try:
                request = next(requests)
            except (StopIteration, grpc.RpcError):
                # The core refused the message (the request stream then ends or fails, which
                # of the two depends on timing), or the client gave up while sending it.
                self._refuse(context, method, "too_large", size_limit=self._limit)
                # gRPC has answered RESOURCE_EXHAUSTED already; this ends the handler quietly
                context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                              f"the request is larger than {self._limit} bytes, or did not "
                              "arrive whole")
            if isinstance(request, _Malformed):
                self._refuse(context, method, "malformed", size=request.size)
                context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                              f"the request is not a valid {name} (protobuf) message; "
                              "send the message this method takes")
            return request

        if handler.unary_unary:
            unary = handler.unary_unary

            def unary_call(requests: Iterator[Any], context: grpc.ServicerContext) -> Any:
                return unary(receive(requests, context), context)

            return grpc.stream_unary_rpc_method_handler(
                unary_call, deserialize, handler.response_serializer)

        streaming = handler.unary_stream

        def stream_call(requests: Iterator[Any], context: grpc.ServicerContext) -> Any:
            yield from streaming(receive(requests, context), context)

        return grpc.stream_stream_rpc_method_handler(
            stream_call, deserialize, handler.response_serializer)

    def _refuse(self, context: grpc.ServicerContext, method: str, reason: str,
                **facts: int) -> None:
        try:
            who = peer_identity(context)
            caller = {"organisation": who.organisation, "role": who.role}
        except (UnauthenticatedPeer, ValueError):
            caller = {}
        # resolved per use, so a logging configuration made after the server started applies
        get_logger(component="grpc").warning("request_refused", method=method, reason=reason,
                                             **caller, **facts)
