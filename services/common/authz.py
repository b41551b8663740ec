"""Authorization by role: one table per service, checked before any handler runs.

The table maps a full gRPC method name (`/samenloop.v1.PartnerService/SubmitSignals`) to the
roles that may call it. A method missing from the table is refused (deny by default), except the
standard health and reflection services, which any authenticated peer may use.

Before the role, the certificate is checked against the service's deny-list, when one is
configured (services/common/denylist.py): a revoked certificate gets UNAUTHENTICATED for every
method but health and reflection. Those stay open, because they tell nothing about data and
an orchestrator's probe must keep working whatever happens to one partner's certificate.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import grpc

from services.common.denylist import DenyList, fingerprint
from services.common.identity import UnauthenticatedPeer, peer_certificate, peer_identity
from services.common.logging import get_logger

OPEN_METHOD_PREFIXES = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
)

RoleTable = Mapping[str, frozenset[str]]

RefusalHook = Callable[[grpc.ServicerContext, str, str], None]
"""Called with (context, full method name, refusal code) before a refused call is aborted:
`role_not_allowed`, `certificate_revoked`, `no_client_certificate` or `method_not_open`.
The matcher writes its `call_refused` audit entry here; a hook must not raise."""


class RoleAuthorizationInterceptor(grpc.ServerInterceptor):  # type: ignore[misc,type-arg]
    """Refuses calls whose certificate role is not allowed for the method."""

    def __init__(self, table: RoleTable, deny_list: DenyList | None = None,
                 on_refused: RefusalHook | None = None) -> None:
        self._table = dict(table)
        self._deny_list = deny_list
        self._on_refused = on_refused

    @property
    def _log(self) -> Any:
        """Resolved per use, so a logging configuration made after start-up applies."""
        return get_logger(component="authz")

    def _refused(self, context: grpc.ServicerContext, method: str, code: str) -> None:
        if self._on_refused is None:
            return
        try:
            self._on_refused(context, method, code)
        except Exception:  # the refusal stands whatever the hook does
            self._log.exception("refusal_hook_failed", method=method, refusal=code)

    def _revoked(self, context: grpc.ServicerContext, method: str) -> bool:
        """True (and logged, without personal data) if the caller's certificate is denied."""
        if self._deny_list is None:
            return False
        cert = peer_certificate(context)
        if not self._deny_list.is_revoked(cert):
            return False
        try:
            who = peer_identity(context)
            actor = {"organisation": who.organisation, "role": who.role}
        except UnauthenticatedPeer:
            actor = {}
        self._log.warning("call_refused", reason="certificate_revoked", method=method,
                          serial=format(cert.serial_number, "x"),
                          fingerprint=fingerprint(cert), **actor)
        return True

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        method = handler_call_details.method
        if method.startswith(OPEN_METHOD_PREFIXES):
            return continuation(handler_call_details)
        allowed = self._table.get(method)
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        if allowed is None:
            self._log.warning("method_not_in_authorization_table", method=method)

            def closed(ctx: grpc.ServicerContext) -> tuple[grpc.StatusCode, str]:
                self._refused(ctx, method, "method_not_open")
                return grpc.StatusCode.PERMISSION_DENIED, f"{method} is not open to any role"

            return _wrap(handler, closed)

        def check(context: grpc.ServicerContext) -> tuple[grpc.StatusCode, str] | None:
            try:
                if self._revoked(context, method):
                    self._refused(context, method, "certificate_revoked")
                    return (grpc.StatusCode.UNAUTHENTICATED,
                            "this client certificate has been revoked (it is on the service's "
                            "deny-list); ask your operator for a new certificate")
                who = peer_identity(context)
            except UnauthenticatedPeer:
                self._refused(context, method, "no_client_certificate")
                return grpc.StatusCode.UNAUTHENTICATED, "a client certificate is required"
            if who.role not in allowed:
                self._log.warning("call_refused", method=method, role=who.role,
                                  organisation=who.organisation)
                self._refused(context, method, "role_not_allowed")
                return (grpc.StatusCode.PERMISSION_DENIED,
                        f"role {who.role!r} may not call {method.rsplit('/', 1)[-1]}; "
                        f"allowed: {', '.join(sorted(allowed))}")
            return None

        return _wrap(handler, check)


def _wrap(
    handler: grpc.RpcMethodHandler[Any, Any],
    check: Callable[[grpc.ServicerContext], tuple[grpc.StatusCode, str] | None],
) -> grpc.RpcMethodHandler[Any, Any]:
    """Run `check` before the handler, whatever its streaming shape."""

    def guard(inner: Callable[..., Any]) -> Callable[..., Any]:
        def run(request: Any, context: grpc.ServicerContext) -> Any:
            refusal = check(context)
            if refusal is not None:
                context.abort(*refusal)
            return inner(request, context)

        return run

    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(
            guard(handler.unary_unary), handler.request_deserializer, handler.response_serializer)
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(
            guard(handler.unary_stream), handler.request_deserializer, handler.response_serializer)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(
            guard(handler.stream_unary), handler.request_deserializer, handler.response_serializer)
    assert handler.stream_stream is not None
    return grpc.stream_stream_rpc_method_handler(
        guard(handler.stream_stream), handler.request_deserializer, handler.response_serializer)
