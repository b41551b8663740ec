"""The demo's `audit verify` stage: the same verifier a privacy officer runs, against the
matcher's database, with the keys dev-setup wrote (never keys the matcher hands out).

The gateways witness the log while they serve: each cosigns the checkpoints it has checked for
consistency. The demo waits (bounded) until the newest checkpoint carries every gateway's
cosignature, then verifies with `--require-cosignatures` equal to the number of gateways; when
the gateways do not witness, it verifies the log without cosignatures and says so.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from samenloop.auditverify.core import Report
from samenloop.auditverify.database import verify_database
from samenloop.auditverify.trust import load_trust
from samenloop.deploy_configs import AUDIT_KEYS


@dataclass(frozen=True)
class AuditResult:
    report: Report
    required: int

    @property
    def ok(self) -> bool:
        return self.report.ok

    @property
    def summary(self) -> str:
        return self.report.summary(self.required)


def verify(pki_dir: Path, database: Path, witnesses: int, timeout: float) -> AuditResult:
    """Verify the matcher's audit log; wait up to `timeout` seconds for `witnesses`
    cosignatures on the newest checkpoint that covers every entry written so far."""
    trust = load_trust(pki_dir / AUDIT_KEYS)
    url = f"sqlite:///{database}"
    deadline = time.monotonic() + timeout
    while True:
        report = verify_database(url, trust, require_cosignatures=witnesses)
        witnessed_all = (report.ok and report.unsigned_tail == 0
                         and report.witnessed_size >= report.latest_checkpoint > 0)
        if witnessed_all or time.monotonic() > deadline:
            return AuditResult(report, witnesses)
        # A log that does not verify fails at once; one that verifies but whose cosignatures
        # are not all there yet (the gateways look every few seconds) is given time. Only a
        # failed verdict needs the second, cosignature-free pass to tell the two apart.
        if not report.ok:
            plain = verify_database(url, trust)
            if not plain.ok:
                return AuditResult(plain, witnesses)
        time.sleep(0.5)
