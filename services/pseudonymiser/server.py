"""Start the pseudonymiser: load config and key, serve gRPC over mTLS."""

from __future__ import annotations

from crypto import keys
from crypto.oprf import VoprfServer
from samenloop.v1 import pseudonymiser_pb2_grpc
from services.common.authz import RoleTable
from services.common.denylist import DenyList
from services.common.health_http import Health, certificate_check
from services.common.server import RunningServer, ServiceBinding, start_server
from services.pseudonymiser.config import PseudonymiserConfig
from services.pseudonymiser.quota import QuotaLedger
from services.pseudonymiser.servicer import PseudonymiserServicer

SERVICE = "samenloop.v1.Pseudonymiser"

# Who may call what (deny by default). Only gateways evaluate; anyone in the deployment may
# read the public key, so officers and the matcher can check which key is served.
ROLES: RoleTable = {
    f"/{SERVICE}/GetPublicKey": frozenset(
        {"gateway", "matcher", "privacy_officer", "independent_review"}
    ),
    f"/{SERVICE}/BlindEvaluate": frozenset({"gateway"}),
}


def load_key(config: PseudonymiserConfig) -> VoprfServer:
    return VoprfServer(keys.load_voprf_key(config.voprf_key))


def start(config: PseudonymiserConfig, *, bind: str | None = None,
          health: Health | None = None) -> RunningServer:
    """Load the key and serve; with `health`, register readiness (key, certificate)."""
    key = load_key(config)
    servicer = PseudonymiserServicer(
        key, QuotaLedger(config.quota_limits()), config.max_batch_size
    )
    running = start_server(
        bind=bind or config.bind,
        tls=config.tls_material,
        services=[ServiceBinding(pseudonymiser_pb2_grpc.add_PseudonymiserServicer_to_server,
                                 servicer, SERVICE)],
        roles=ROLES,
        max_message_bytes=config.max_request_bytes,
        deny_list=DenyList(config.deny_list) if config.deny_list else None,
    )
    if health is not None:
        health.add_readiness("keys", lambda: None)  # loaded above, or start() had failed
        health.add_readiness("certificate", certificate_check(config.tls.cert))
        health.mark_started()
    return running
