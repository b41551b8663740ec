"""Real services on loopback for end-to-end tests: the development PKI and a pseudonymiser.

Import the fixtures into a conftest (`from tests.support.services import pki_dir, ...`) or use
the functions directly. Everything runs over mTLS with certificates from
`crypto.devsetup.dev_setup`, exactly as a deployment would.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from crypto.devsetup import dev_setup
from services.common.server import RunningServer
from services.common.tls import TlsMaterial, secure_channel
from services.pseudonymiser.client import PseudonymiserClient
from services.pseudonymiser.config import PseudonymiserConfig
from services.pseudonymiser.quota import QuotaLimits
from services.pseudonymiser.server import start as start_pseudonymiser

GATEWAYS = {
    "housing": "gateway-woonstad-rotterdam",
    "police": "gateway-politie-rotterdam",
    "mental_health": "gateway-ggz-delfland",
    "municipality": "gateway-gemeente-rotterdam",
}


@dataclass
class DevPki:
    directory: Path
    manifest: dict[str, object]

    def tls(self, component: str) -> TlsMaterial:
        return TlsMaterial.from_dir(self.directory, component)

    def key_file(self, component: str, purpose: str) -> Path:
        components = self.manifest["components"]
        assert isinstance(components, dict)
        return self.directory / components[component]["keys"][purpose]["file"]

    def public_key(self, component: str, purpose: str) -> bytes:
        components = self.manifest["components"]
        assert isinstance(components, dict)
        return base64.b64decode(components[component]["keys"][purpose]["public"])

    def channel(
        self, component: str, port: int, server_role: str = "pseudonymiser"
    ) -> grpc.Channel:
        """An mTLS channel as `component`, to a server that must have role `server_role`."""
        return secure_channel(f"127.0.0.1:{port}", self.tls(component), server_role=server_role)


def make_pki(directory: Path) -> DevPki:
    return DevPki(directory, dev_setup(directory))


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    """One development PKI for the whole session (generating it takes a moment)."""
    return make_pki(tmp_path_factory.mktemp("pki") / "dev")


TEST_LIMITS = QuotaLimits(daily_elements=2_000_000, rate_per_second=20_000.0, burst=20_000)


def gateway_organisations(pki: DevPki) -> list[str]:
    """Every organisation with a gateway certificate in the PKI's manifest."""
    components = pki.manifest["components"]
    assert isinstance(components, dict)
    return sorted({c["organisation"] for c in components.values() if c["role"] == "gateway"})


def pseudonymiser_config(
    pki: DevPki,
    *,
    max_batch_size: int = 1000,
    limits: QuotaLimits = TEST_LIMITS,
    organisations: dict[str, QuotaLimits] | None = None,
    deny_list: Path | None = None,
) -> PseudonymiserConfig:
    """Serves `organisations`, by default every gateway in the manifest with `limits`."""
    if organisations is None:
        organisations = {org: limits for org in gateway_organisations(pki)}
    tls = pki.tls("pseudonymiser")
    return PseudonymiserConfig(
        bind="127.0.0.1:0",
        tls={"ca": tls.ca_cert, "cert": tls.cert, "key": tls.key},
        voprf_key=pki.key_file("pseudonymiser", "voprf"),
        organisations={
            org: {"daily_elements": q.daily_elements, "rate_per_second": q.rate_per_second,
                  "burst": q.burst}
            for org, q in organisations.items()
        },
        max_batch_size=max_batch_size,
        deny_list=deny_list,
    )


@dataclass
class RunningPseudonymiser:
    running: RunningServer
    pki: DevPki

    @property
    def port(self) -> int:
        return self.running.port

    @property
    def public_key(self) -> bytes:
        return self.pki.public_key("pseudonymiser", "voprf")

    def client(self, gateway: str = GATEWAYS["housing"]) -> PseudonymiserClient:
        return PseudonymiserClient.connect(f"127.0.0.1:{self.port}", self.pki.tls(gateway),
                                           self.public_key)


@pytest.fixture(scope="session")
def pseudonymiser(pki: DevPki) -> Iterator[RunningPseudonymiser]:
    """A real pseudonymiser on a loopback port, for the whole session."""
    running = start_pseudonymiser(pseudonymiser_config(pki))
    try:
        yield RunningPseudonymiser(running, pki)
    finally:
        running.stop(0)


def matcher_files(directory: Path, component: str = "matcher") -> dict[str, object]:
    """The matcher's file settings for a dev-setup directory: `tls: {ca, cert, key}`, keys and
    the audit log's checkpoint key."""
    tls = TlsMaterial.from_dir(directory, component)
    return {
        "tls": {"ca": str(tls.ca_cert), "cert": str(tls.cert), "key": str(tls.key)},
        "signing_key": str(Path(directory) / component / "signing.key"),
        "hmac_key": str(Path(directory) / component / "hmac.key"),
        "audit": {"checkpoint_key": str(Path(directory) / component / "checkpoint.key")},
    }
