"""Build the matcher from its configuration and serve it over mTLS."""

from __future__ import annotations

import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crypto.errors import PkiError
from crypto.keys import load_hmac_key, load_signing_key
from crypto.pki import identity_from_certificate
from domain.catalogue import Catalogue, load_catalogue
from policies.errors import TrustFileError
from policies.trust_file import TrustFile
from samenloop.v1 import audit_pb2_grpc, partner_pb2_grpc, policy_pb2_grpc, wijkteam_pb2_grpc
from services.common import metrics
from services.common.config import ConfigError
from services.common.db import (
    DatabaseNotMigrated,
    DatabaseUnavailable,
    create_engine,
    ensure_migrated,
)
from services.common.denylist import DenyList
from services.common.health_http import Health, certificate_check, database_check
from services.common.logging import get_logger
from services.common.server import (
    DEFAULT_MAX_MESSAGE_BYTES,
    RunningServer,
    ServiceBinding,
    start_server,
)
from services.common.tls import TlsMaterial
from services.matcher.authorization import ROLE_TABLE
from services.matcher.clock import Clock, SystemClock
from services.matcher.config import MIGRATIONS, MatcherConfig
from services.matcher.policy_registry import PolicyRegistry
from services.matcher.purge import purge
from services.matcher.service import Matcher
from services.matcher.servicers._common import refusal_hook
from services.matcher.servicers.audit import AuditServicer
from services.matcher.servicers.partner import PartnerServicer
from services.matcher.servicers.policy import PolicyServicer
from services.matcher.servicers.wijkteam import WijkteamServicer
from services.matcher.settings import MatcherSettings

MIGRATE_HINT = "samenloop matcher migrate --config {config}"


def build_matcher(
    config: MatcherConfig, *, clock: Clock | None = None, engine: Engine | None = None,
    catalogue: Catalogue | None = None,
) -> Matcher:
    """Open the database (refusing an unmigrated one), load keys, trust file and catalogue."""
    engine = engine or create_engine(config.url)
    ensure_migrated(engine, MIGRATIONS, MIGRATE_HINT.format(config=config.source))
    for org in config.partners_without_disclosure_key():
        get_logger(component="matcher").warning(
            "partner_without_disclosure_key", partner=org,
            action="register its disclosure.key.pub as partners.<org>.disclosure_key")
    return Matcher(
        engine=engine,
        settings=config.settings,
        signing_key=load_signing_key(config.signing_key),
        hmac_key=load_hmac_key(config.hmac_key),
        registry=PolicyRegistry(open_trust_file(config.officer_trust),
                                controller=config.settings.controller),
        catalogue=catalogue or load_catalogue(config.catalogue),
        clock=clock or SystemClock(),
        checkpoint_signer=config.audit.signer(),
    )


def build_matcher_when_migrated(
    config: MatcherConfig, health: Health, stop: threading.Event, retry_seconds: float = 2.0,
) -> Matcher | None:
    """`build_matcher`, but wait (not ready) while the database is unreachable or unmigrated.

    Under Kubernetes a pod may start before the `matcher migrate` Job has finished, or while
    PostgreSQL restarts; waiting with readiness false is then better than a crash loop. Returns
    None when `stop` is set first. Without a health port the matcher exits instead (one line).
    """
    log = get_logger()
    shown = None
    while True:
        engine = create_engine(config.url)
        try:
            return build_matcher(config, engine=engine)
        except DatabaseNotMigrated as exc:
            phrase, detail = "database not migrated", str(exc)
        except DatabaseUnavailable as exc:
            phrase, detail = "database unreachable", str(exc)
        engine.dispose()
        health.waiting_for(phrase)
        if phrase != shown:
            log.warning("waiting_for_database", reason=phrase, detail=detail)
            shown = phrase
        if stop.wait(retry_seconds):
            return None


class OperatorIsPartner(ConfigError):
    """The matcher's own organisation is also one of its partners (ADR 0010)."""


def check_operator_separation(tls: TlsMaterial, settings: MatcherSettings) -> str:
    """Refuse to run when the matcher's certificate organisation is also a partner.

    A partner (above all the municipality, which pseudonymises the whole BRP) that also holds
    the matcher's HMAC key can map every stored pseudonym back to a BSN or address. Returns the
    matcher's organisation id.
    """
    try:
        own = identity_from_certificate(Path(tls.cert).read_bytes())
    except OSError as exc:
        raise ConfigError(f"cannot read the matcher certificate {tls.cert}: {exc.strerror}") \
            from None
    except PkiError as exc:
        raise ConfigError(f"{tls.cert}: {exc}") from None
    if own.organisation in settings.partners:
        raise OperatorIsPartner(
            f"the matcher's certificate belongs to {own.organisation}, which is also a partner "
            "in its configuration; the matcher must be run by another organisation (a "
            "processor, see docs/decisions/0010-matcher-operator-separation.md)"
        )
    return own.organisation


def open_trust_file(path: Path) -> TrustFile:
    """The officer trust file, followed on disk; a broken file after a change is logged (and
    trusts nobody until it is fixed: `policies.trust_file`)."""

    def on_error(error: TrustFileError) -> None:
        get_logger(component="matcher").error(
            "trust_file_invalid", error=str(error),
            action="no policy is in force until the trust file is valid again")

    return TrustFile(path, on_error=on_error)


def reload_trust_on_sighup(matcher: Matcher) -> None:
    """SIGHUP re-reads the trust file (call from the main thread). The file is also re-read
    whenever its mtime, ctime, size or inode changes; SIGHUP is for file systems whose
    timestamps cannot be trusted."""

    def on_hup(_signum: int, _frame: Any) -> None:
        matcher.registry.reload_trust()
        get_logger(component="matcher").info(
            "trust_file_reloaded", officers=len(matcher.registry.trust))

    signal.signal(signal.SIGHUP, on_hup)


@dataclass
class MatcherServer:
    matcher: Matcher
    running: RunningServer
    _stop: threading.Event
    _purger: threading.Thread | None
    _sequencer: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.running.port

    def stop(self, grace: float = 2.0) -> None:
        self._stop.set()
        self.running.stop(grace)
        for thread in (self._purger, self._sequencer):
            if thread is not None:
                thread.join(timeout=5)


def serve(
    matcher: Matcher, *, bind: str, tls: TlsMaterial, purge_interval: float = 0.0,
    max_workers: int = 16, deny_list: Path | None = None, health: Health | None = None,
    sequence_interval: float = 1.0,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
) -> MatcherServer:
    """Start the four services on `bind`; purge every `purge_interval` seconds (0: never);
    append new audit entries to the Merkle tree and sign due checkpoints every
    `sequence_interval` seconds (0: only on demand).

    Refuses to start when the matcher's own organisation is one of its partners. With
    `health`, readiness then checks the database (reachable, migrated) and the certificate.
    """
    check_operator_separation(tls, matcher.settings)
    running = start_server(
        bind=bind,
        tls=tls,
        services=[
            ServiceBinding(partner_pb2_grpc.add_PartnerServiceServicer_to_server,
                           PartnerServicer(matcher), "samenloop.v1.PartnerService"),
            ServiceBinding(wijkteam_pb2_grpc.add_WijkteamServiceServicer_to_server,
                           WijkteamServicer(matcher), "samenloop.v1.WijkteamService"),
            ServiceBinding(policy_pb2_grpc.add_PolicyServiceServicer_to_server,
                           PolicyServicer(matcher), "samenloop.v1.PolicyService"),
            ServiceBinding(audit_pb2_grpc.add_AuditServiceServicer_to_server,
                           AuditServicer(matcher), "samenloop.v1.AuditService"),
        ],
        roles=ROLE_TABLE,
        max_workers=max_workers,
        max_message_bytes=max_message_bytes,
        deny_list=DenyList(deny_list) if deny_list else None,
        on_refused=refusal_hook(matcher),
    )
    stop = threading.Event()
    purger = None
    if purge_interval > 0:
        def loop() -> None:
            log = get_logger(component="purge")
            while not stop.wait(purge_interval):
                try:
                    purge(matcher)
                except Exception:  # keep serving; the next run tries again
                    log.exception("purge_failed")

        purger = threading.Thread(target=loop, name="matcher-purge", daemon=True)
        purger.start()
    sequencer_thread = None
    if sequence_interval > 0:
        sequencer_thread = threading.Thread(
            target=_sequence_loop, args=(matcher, stop, sequence_interval),
            name="matcher-audit-sequencer", daemon=True)
        sequencer_thread.start()
    metrics.observe_reveal_requests_pending(lambda: pending_reveal_requests(matcher.engine))
    if health is not None:
        health.add_readiness("database", database_check(
            matcher.engine, MIGRATIONS, "samenloop matcher migrate"))
        health.add_readiness("keys", lambda: None)  # build_matcher loaded them, or failed
        health.add_readiness("certificate", certificate_check(tls.cert))
        health.mark_started()
    return MatcherServer(matcher, running, stop, purger, sequencer_thread)


def _sequence_loop(matcher: Matcher, stop: threading.Event, interval: float) -> None:
    """The audit log's sequencer (ADR 0022): a write transaction only when there is work."""
    log = get_logger(component="sequencer")
    while not stop.wait(interval):
        try:
            if matcher.audit_log_work_due():
                run = matcher.sequence_audit_log()
                if run.sequenced or run.checkpoints_signed:
                    log.debug("audit_log_sequenced", entries=run.sequenced,
                              tree_size=run.head.size, checkpoints=list(run.checkpoints_signed))
        except Exception:  # keep serving; the next round tries again
            log.exception("audit_sequencing_failed")


def pending_reveal_requests(engine: Engine) -> int:
    """How many reveal requests wait for a partner's answer (the metric's source)."""
    from services.matcher.schema import PENDING, reveal_requests

    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(reveal_requests)
                                .where(reveal_requests.c.state == PENDING)).scalar_one())


def migrations_dir() -> Path:
    return MIGRATIONS
