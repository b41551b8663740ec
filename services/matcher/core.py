"""What every use case shares: the configured matcher, the caller's partner entry, the keyed
pseudonym step, the audit actor, and resource-name / code / page-token parsing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crypto.checkpoint import NoteSigner
from crypto.pseudonyms import matcher_pseudonym
from crypto.signing import SigningKey
from domain.catalogue import Catalogue
from domain.codes import CodeList, UnknownCode
from services.common import metrics
from services.common.logging import get_logger
from services.matcher import alerts, audit, matching, sequencer, store, tree_store
from services.matcher import audit_catalogue as catalogue
from services.matcher.clock import Clock
from services.matcher.errors import (
    InvalidArgument,
    PermissionDenied,
)
from services.matcher.logboek import PolicyRef, Register
from services.matcher.logboek_otlp import OtlpLogboek
from services.matcher.notify import Notifier
from services.matcher.policy_registry import (
    PolicyRegistry,
)
from services.matcher.schema import (
    policies,
)
from services.matcher.settings import MatcherSettings, PartnerEntry
from services.matcher.validation import (
    PseudonymIn,
)
from services.matcher.views import Caller


class MatcherCore:
    """The matcher's state and the helpers every use case needs (`service.Matcher` mixes
    the use cases in)."""

    """The matcher's use cases over one database (any number of these may share it)."""

    def __init__(
        self,
        *,
        engine: Engine,
        settings: MatcherSettings,
        signing_key: SigningKey,
        hmac_key: bytes,
        registry: PolicyRegistry,
        catalogue: Catalogue,
        clock: Clock,
        checkpoint_signer: NoteSigner | None = None,
    ) -> None:
        self.engine = engine
        self.checkpoint_signer = checkpoint_signer
        """Signs the audit log's checkpoints (config `audit.checkpoint_key`); None: the tree
        grows but no checkpoint is signed (tests and benchmarks that need none)."""
        self.settings = settings
        self.signing_key = signing_key
        self._hmac_key = hmac_key
        self.registry = registry
        self.catalogue = catalogue
        self.clock = clock
        self.notifier = Notifier()
        self.logboek = audit.Logboek(
            Register(settings.logboek.processing_activity_uri, settings.logboek.organisation_uri),
            None if settings.logboek.export is None else OtlpLogboek(settings.logboek.export))
        self.env = matching.MatchEnv(
            registry=registry,
            catalogue=catalogue,
            signing_key=signing_key,
            reveal_ttl=settings.reveal_request_ttl,
            alert_signal_retention_days=settings.alert_signal_retention_days,
        )


    def sequence_audit_log(self, *, force_checkpoint: bool = False) -> sequencer.SequenceRun:
        """Append every committed, queued audit entry to the Merkle tree (several transactions
        if many) and sign the checkpoints that are due; with `force_checkpoint`, also one at
        the end if the tree grew (ADR 0022). The server also runs this every second."""
        while True:
            def work(conn: sa.Connection) -> sequencer.SequenceRun:
                return sequencer.sequence(
                    conn, now=self.clock.now(), signer=self.checkpoint_signer,
                    settings=self.settings.audit_log, force_checkpoint=force_checkpoint)

            run = store.run_transaction(self.engine, work)
            if not run.more:
                return run

    def audit_log_work_due(self) -> bool:
        """Whether a sequencing step would do anything (read-only, no lock): entries queued,
        or a checkpoint due by time."""
        with self.engine.connect() as conn:
            return sequencer.work_due(conn, now=self.clock.now(),
                                      signing=self.checkpoint_signer is not None,
                                      settings=self.settings.audit_log)

    def leaf_index_of(self, event_id: int) -> int | None:
        """The leaf index of the audit entry with this row id (None while not sequenced)."""
        with self.engine.connect() as conn:
            return tree_store.leaf_index_of(conn, event_id)

    def announce_created(self, attempts: Iterable[alerts.Attempt]) -> int:
        """Count the alerts a committed transaction created, record the metric and wake the
        teams' long polls and streams; returns the count."""
        created = sum(1 for a in attempts if a.result is alerts.AttemptResult.CREATED)
        if created:
            metrics.alerts_created(created)
            self.notifier.notify()
        return created

    @property
    def log(self) -> Any:
        """Resolved per use, so a logging configuration made later applies."""
        return get_logger(component="matcher")

    def pseudonym(self, p: PseudonymIn) -> bytes:
        """The matcher's keyed step: HMAC-SHA256(matcher key, VOPRF output)."""
        return matcher_pseudonym(self._hmac_key, p.voprf_output)

    def partner(self, caller: Caller) -> PartnerEntry:
        entry = self.settings.partners.get(caller.organisation)
        if entry is None:
            raise PermissionDenied(
                f"organisation {caller.organisation!r} is not a registered partner of this "
                "matcher", refusal=catalogue.NOT_A_PARTNER)
        return entry

    def _actor(self, caller: Caller) -> audit.Actor:
        return audit.Actor.from_current_span(caller.organisation, caller.role, self.clock.now(),
                                             self.logboek, caller.traceparent)

    def _system_actor(self, job: str) -> audit.Actor:
        """The matcher itself (purge, expiry), in a fresh trace."""
        return audit.Actor.system(job, self.logboek)

    def _check_batch(self, n: int) -> None:
        if n > self.settings.max_batch_rows:
            self.log.warning("batch_refused", reason="too_many_rows", rows=n,
                             limit=self.settings.max_batch_rows)
            raise InvalidArgument(
                f"a batch holds at most {self.settings.max_batch_rows} rows, got {n}"
            )

    @staticmethod
    def _latest_version(conn: sa.Connection, policy_id: str) -> sa.Row[Any] | None:
        """The latest published version of a policy, or None if it was never published."""
        return conn.execute(
            sa.select(policies).where(policies.c.policy_id == policy_id)
            .order_by(policies.c.version.desc()).limit(1)
        ).first()

    def _activity(self, conn: sa.Connection, policy_id: str) -> str:
        """The processing activity id of a policy (latest published version)."""
        return str(self._under_policy(conn, policy_id)["processing_activity_id"])

    def _under_policy(self, conn: sa.Connection, policy_id: str, digest: str = ""
                      ) -> dict[str, Any]:
        """The AuditEvent fields of an action under a stored policy: the document with
        `digest`, else the latest published version of `policy_id` (`audit.under_policy`)."""
        row: Any = None
        if digest:
            row = conn.execute(sa.select(policies.c.digest, policies.c.document_json)
                               .where(policies.c.digest == digest)).first()
        if row is None:
            row = self._latest_version(conn, policy_id)
        if row is None:  # named by a caller, never published
            return {"processing_activity_id": policy_id, "policy": PolicyRef(policy_id)}
        return audit.under_policy(self.registry.parsed(row.digest, row.document_json),
                                  row.digest)


def resource_id(name: str, collection: str) -> str:
    prefix = f"{collection}/"
    if not name.startswith(prefix) or not name[len(prefix):] or "/" in name[len(prefix):]:
        raise InvalidArgument(f"expected a resource name `{collection}/{{id}}`, got {name[:80]!r}")
    return name[len(prefix):]


def check_code(codes: CodeList, value: str, field: str) -> str:
    """`value` if it is in `codes`; INVALID_ARGUMENT naming the field and the valid codes."""
    try:
        return codes.check(value, field)
    except UnknownCode as exc:
        raise InvalidArgument(str(exc)) from None


def parse_page_token(token: str) -> int | None:
    if not token:
        return None
    try:
        return int(token)
    except ValueError:
        raise InvalidArgument("page_token is not valid") from None
