"""gRPC fuzz targets for atheris: raw bytes to every matcher and pseudonymiser RPC, over mTLS,
with the certificate of a role allowed to call it (ADR 0028).

Started once per process: a development PKI, the pseudonymiser, and a matcher on SQLite with
a published policy and an alert (so names in the input can reach past "not found"), all in a
temporary directory. The first input byte picks the method, the rest is the request as sent.
The contract: an answer within the deadline, never INTERNAL or UNKNOWN, and a one-line message.
tests/hostile/test_fuzz_grpc.py runs the structured counterpart under hypothesis.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import grpc

CRASHED = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DATA_LOSS}
CALLERS = {"PartnerService": "gateway-gemeente-rotterdam",
           "WijkteamService": "wijkteam-feijenoord",
           "PolicyService": "fg-gemeente-rotterdam",
           "AuditService": "fg-gemeente-rotterdam",
           "Pseudonymiser": "gateway-woonstad-rotterdam"}


@cache
def _services() -> dict[str, Any]:
    """The running services and one channel per service (kept for the process's life)."""
    import yaml

    from samenloop.v1 import audit_pb2, partner_pb2, policy_pb2, pseudonymiser_pb2, wijkteam_pb2
    from services.common.db import create_engine, migrate
    from services.common.logging import configure_logging
    from services.common.tls import secure_channel
    from services.matcher.clock import SettableClock, SystemClock
    from services.matcher.config import MIGRATIONS
    from services.matcher.server import serve
    from tests.matcher.client import Pseudonymiser
    from tests.matcher.conftest import PARTNERS, Harness
    from tests.matcher.helpers import Pki, build_matcher_for_test
    from tests.matcher.test_reveal import make_alert
    from tests.support.services import make_pki, pseudonymiser_config, start_pseudonymiser

    configure_logging("fuzz", level="ERROR")
    base = Path(tempfile.mkdtemp(prefix="samenloop-fuzz-grpc-"))
    atexit.register(shutil.rmtree, base, ignore_errors=True)
    dev = make_pki(base / "dev")
    officers = [{"officer_id": name, "organisation": c["organisation"], "role": c["role"],
                 "public_key": c["keys"]["signing"]["public"]}
                for name, c in dev.manifest["components"].items()  # type: ignore[attr-defined]
                if c["role"] in ("privacy_officer", "independent_review")]
    trust = base / "dev" / "officers.yaml"
    trust.write_text(yaml.safe_dump({"format": "samenloop-officers/v2", "officers": officers}))
    pki = Pki(dev.directory, dev.manifest, trust, dev)
    running = start_pseudonymiser(pseudonymiser_config(dev))
    voprf = dev.manifest["components"]["pseudonymiser"]["keys"]["voprf"]  # type: ignore[index]
    import base64

    pseudonymiser = Pseudonymiser(running.port, base64.b64decode(voprf["public"]),
                                  voprf["key_id"])
    url = f"sqlite:///{base / 'matcher.sqlite'}"
    migrate(MIGRATIONS, url)
    from services.matcher.settings import MatcherSettings

    settings = MatcherSettings(partners=PARTNERS, accepted_key_ids=frozenset({voprf["key_id"]}),
                               municipality="GM0599", controller="gemeente-rotterdam",
                               max_batch_rows=50)
    clock = SettableClock(SystemClock().now())
    matcher = build_matcher_for_test(create_engine(url), pki, settings, clock, trust)
    server = serve(matcher, bind="127.0.0.1:0", tls=pki.tls("matcher"), max_workers=8,
                   max_message_bytes=256 * 1024)
    harness = Harness(pki, pseudonymiser, matcher, server, clock, trust)
    make_alert(harness)
    modules = {"PartnerService": partner_pb2, "WijkteamService": wijkteam_pb2,
               "PolicyService": policy_pb2, "AuditService": audit_pb2}
    methods = [(service, f"/samenloop.v1.{service}/{m.name}", m.server_streaming)
               for service, module in modules.items()
               for m in module.DESCRIPTOR.services_by_name[service].methods]
    channels = {service: harness.channel(component) for service, component in CALLERS.items()
                if service != "Pseudonymiser"}
    channels["Pseudonymiser"] = secure_channel(
        f"127.0.0.1:{running.port}", pki.tls(CALLERS["Pseudonymiser"]),
        server_role="pseudonymiser")
    del pseudonymiser_pb2
    return {"methods": methods, "channels": channels, "keep": (running, server, harness)}


def _ident(data: bytes) -> bytes:
    return data


def _call(channel: grpc.Channel, method: str, data: bytes, streaming: bool) -> None:
    ident = _ident
    try:
        if streaming:
            for _ in channel.unary_stream(method, request_serializer=ident,
                                          response_deserializer=ident)(data, timeout=1.0):
                pass
        else:
            channel.unary_unary(method, request_serializer=ident,
                                response_deserializer=ident)(data, timeout=15)
    except grpc.RpcError as exc:
        code, details = exc.code(), exc.details() or ""
        assert code not in CRASHED, f"{method}: {code.name} {details}"
        if code is grpc.StatusCode.DEADLINE_EXCEEDED:
            assert streaming or method.endswith("PullRevealRequests"), f"{method} hung"
        else:
            assert details and "\n" not in details, f"{method}: {details!r}"


def grpc_matcher(data: bytes) -> None:
    services = _services()
    if not data:
        return
    service, method, streaming = services["methods"][data[0] % len(services["methods"])]
    body = data[1:]
    if method.endswith("PullRevealRequests"):
        body = b""  # a wait in the request would be a real wait
    _call(services["channels"][service], method, body, streaming)


def grpc_pseudonymiser(data: bytes) -> None:
    services = _services()
    if not data:
        return
    name = ("GetPublicKey", "BlindEvaluate")[data[0] % 2]
    _call(services["channels"]["Pseudonymiser"], f"/samenloop.v1.Pseudonymiser/{name}",
          data[1:], False)


def target(name: str) -> Callable[[bytes], None]:
    return {"grpc_matcher": grpc_matcher, "grpc_pseudonymiser": grpc_pseudonymiser}[name]
