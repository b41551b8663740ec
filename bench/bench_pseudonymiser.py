"""Pseudonymisation over gRPC + mTLS against the in-process VOPRF bound, batches of 1/100/1000.

The server runs as its own process (`samenloop pseudonymiser serve`), as in production, so
client and server each get a core. Per batch size we time the whole gateway round trip —
blind, BlindEvaluate over loopback mTLS, proof verification, unblinding — and compare with the
same protocol run in one process without the network (the crypto benchmark's end-to-end path),
and with the raw libsodium scalar-multiplication bound (6 + 7/B multiplications per element).
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import yaml

from bench.bench_crypto import _best, _raw_scalarmult_rate
from crypto import keys, oprf
from crypto.devsetup import dev_setup
from crypto.pseudonyms import voprf_input
from services.common.tls import TlsMaterial, secure_channel
from services.pseudonymiser.client import PseudonymiserClient
from tests.support.processes import start_server_process


def _in_process_rate(sk: oprf.Scalar, batch: int, repeats: int) -> float:
    server = oprf.VoprfServer(sk)
    client = oprf.VoprfClient(server.public_key)
    inputs = [voprf_input("person", f"{i:09d}") for i in range(batch)]

    def once() -> None:
        blinded = client.blind_batch(inputs)
        evaluated, proof = server.evaluate_batch(blinded.wire())
        client.finalize(blinded, evaluated, proof)

    return batch / _best(once, repeats)


def _start_server(pki: Path, work: Path) -> tuple[subprocess.Popen[bytes], int]:
    config = {
        "bind": "127.0.0.1:0",
        "tls": {"ca": str(pki / "ca/ca.crt"), "cert": str(pki / "pseudonymiser/tls.crt"),
                "key": str(pki / "pseudonymiser/tls.key")},
        "voprf_key": str(pki / "pseudonymiser/voprf.key"),
        "max_batch_size": 1000,
        "organisations": {"woonstad-rotterdam": {"daily_elements": 10**9,
                                                 "rate_per_second": 10**9, "burst": 10**9}},
    }
    config_path = work / "pseudonymiser.yaml"
    config_path.write_text(yaml.safe_dump(config))
    return start_server_process(
        ["pseudonymiser", "serve", "--config", str(config_path)], work / "server.log"
    )


def run(quick: bool) -> None:
    repeats = 2 if quick else 4
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pki = work / "pki"
        manifest = dev_setup(pki)
        sk = keys.load_voprf_key(pki / "pseudonymiser/voprf.key")
        pinned = oprf.public_key(sk).to_bytes()
        bound, _ = _raw_scalarmult_rate(2000 if quick else 5000, repeats)
        print(f"raw libsodium ristretto255 scalarmult: {bound:,.0f} /s")
        process, port = _start_server(pki, work)
        try:
            gateway = "gateway-woonstad-rotterdam"
            assert gateway in manifest["components"]
            client = PseudonymiserClient(
                secure_channel(f"127.0.0.1:{port}", TlsMaterial.from_dir(pki, gateway),
                               server_role="pseudonymiser"), pinned)
            client.check_key()
            print(f"{'batch':>6} {'gRPC elements/s':>16} {'in-process/s':>13} "
                  f"{'gRPC/in-proc':>13} {'gRPC/bound':>11}")
            for batch in (1, 100, 1000):
                inputs = [voprf_input("person", f"{i:09d}") for i in range(batch)]
                rounds = max(1, (200 if quick else 1000) // batch)

                def over_grpc(inputs: list[bytes] = inputs, rounds: int = rounds) -> None:
                    for _ in range(rounds):
                        client.evaluate(inputs)

                grpc_rate = batch * rounds / _best(over_grpc, repeats)
                local_rate = _in_process_rate(sk, batch, repeats)
                ideal = bound / (6 + 7 / batch)
                print(f"{batch:>6} {grpc_rate:>16,.0f} {local_rate:>13,.0f} "
                      f"{grpc_rate / local_rate:>12.0%} {grpc_rate / ideal:>10.0%}")
        finally:
            process.terminate()
            process.wait(10)
