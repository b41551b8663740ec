"""Ingest: signals, withdrawals and household links from the partner gateways (PartnerService).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from domain.catalogue import PartnerKind
from services.matcher import alerts, audit, matching, store
from services.matcher import audit_catalogue as catalogue
from services.matcher import link_steps as lsteps
from services.matcher import signal_steps as steps
from services.matcher import withdrawal_steps as wsteps
from services.matcher.core import MatcherCore
from services.matcher.errors import (
    InvalidArgument,
    PermissionDenied,
)
from services.matcher.schema import (
    households,
    persons,
)
from services.matcher.validation import (
    LinkIn,
    SignalIn,
    validate_link,
    validate_signal,
)
from services.matcher.views import (
    ACCEPTED,
    DUPLICATE,
    REJECTED,
    BatchResult,
    Caller,
    RowOutcome,
)


class IngestUseCases(MatcherCore):
    """SubmitSignals, WithdrawSignals, SubmitHouseholdLinks."""

    @classmethod
    def _log_batch(
        cls, conn: sa.Connection, actor: audit.Actor, partner: str, kind: str, batch_id: str,
        outcomes: Sequence[RowOutcome | None], purposes: Iterable[str], now: datetime,
    ) -> None:
        """Write the `batch_received` entry."""
        audit.write(conn, actor, [cls._batch_event(partner, kind, batch_id, outcomes, purposes)],
                    now)

    @staticmethod
    def _batch_event(
        partner: str, kind: str, batch_id: str, outcomes: Sequence[RowOutcome | None],
        purposes: Iterable[str],
    ) -> audit.AuditEvent:
        """The `batch_received` entry: one per batch, its counts per outcome (no subject)."""
        rows = [o for o in outcomes if o is not None]
        return audit.AuditEvent(
            "batch_received", catalogue.BATCH_RECEIPT, "", audit.NONE,
            {"partner": partner, "batch_kind": kind, "batch_id": batch_id[:64],
             "rows": str(len(outcomes)),
             **{o: str(sum(1 for r in rows if r.outcome == o))
                for o in (ACCEPTED, DUPLICATE, REJECTED)}},
            purpose=",".join(sorted(set(purposes))))

    def _lock_for_signal_rows(
        self, conn: sa.Connection, rows: Sequence[Any], now: datetime
    ) -> set[int]:
        """Lock the persons and households existing signal rows count for; their household ids."""
        pids = {int(r.person_id) for r in rows if r.person_id is not None}
        person_keys = [
            bytes(p)
            for part in store.chunks(sorted(pids))
            for (p,) in conn.execute(sa.select(persons.c.pseudonym).where(persons.c.id.in_(part)))
        ]
        store.lock_persons(conn, person_keys, now)
        links = store.links_of_persons(conn, pids)
        hids = {int(r.household_id) for r in rows if r.household_id is not None}
        for r in rows:
            if r.household_id is None and r.person_id is not None:
                home = store.household_on(links.get(int(r.person_id)), r.observed_on)
                if home is not None:
                    hids.add(home)
        store.lock_household_ids(conn, hids)
        return hids


    def submit_signals(
        self, caller: Caller, batch_id: str, rows: Sequence[SignalIn]
    ) -> BatchResult:
        """Store a partner's signals, one transaction per batch (steps: `signal_steps`)."""
        partner = self.partner(caller)
        self._check_batch(len(rows))
        if not batch_id:
            raise InvalidArgument("batch_id is required")
        today = self.clock.today()
        results, valid = steps.validate(rows, lambda row: validate_signal(
            row, partner, self.catalogue, self.settings.accepted_key_ids, today))
        batch = steps.Batch(partner, batch_id, valid)
        steps.pseudonymise(batch, self.pseudonym)
        actor = self._actor(caller)

        def work(conn: sa.Connection) -> tuple[dict[int, RowOutcome], list[alerts.Attempt]]:
            now = self.clock.now()
            out: dict[int, RowOutcome] = {}
            homes = steps.resolve_households(conn, batch, now)
            fresh = steps.deduplicate(conn, batch, out)
            originals = steps.live_originals(conn, batch, fresh, homes, today)
            plan = steps.classify_repeats(batch, fresh, homes, originals, now)
            steps.write(conn, plan, now)
            affected, events = steps.audit_outcomes(conn, batch, plan, homes, out)
            events.append(self._batch_event(
                partner.organisation, "signals", batch_id,
                [out.get(i, r) for i, r in enumerate(results)], (v.purpose for _, v in valid)))
            # One audit write for the batch: its signals, the batch, and the alerts it opened.
            attempts = matching.evaluate_standing(conn, self.env, affected, now=now, actor=actor,
                                                  events=events)
            audit.write(conn, actor, events, now)
            return out, attempts

        def rejected_only(conn: sa.Connection) -> tuple[dict[int, RowOutcome],
                                                         list[alerts.Attempt]]:
            self._log_batch(conn, actor, partner.organisation, "signals", batch_id, results,
                            (), self.clock.now())
            return {}, []

        stored, attempts = store.run_transaction(self.engine, work if valid else rejected_only)
        result = self._finish(results, stored, attempts)
        self.log.info("signals_received", partner=partner.organisation, batch_id=batch_id[:64],
                      rows=len(rows), accepted=result.count(ACCEPTED),
                      duplicate=result.count(DUPLICATE), rejected=result.count(REJECTED),
                      alerts_created=result.alerts_created)
        return result

    def withdraw_signals(
        self, caller: Caller, batch_id: str, withdrawals: Sequence[tuple[str, str]]
    ) -> BatchResult:
        """Withdraw a partner's signals, one transaction per batch (steps: `withdrawal_steps`)."""
        partner = self.partner(caller)
        self._check_batch(len(withdrawals))
        wsteps.check_reasons(withdrawals)
        actor = self._actor(caller)

        def work(conn: sa.Connection) -> tuple[dict[int, RowOutcome], list[alerts.Attempt]]:
            now = self.clock.now()
            found = wsteps.find(conn, partner.organisation, [sid for sid, _ in withdrawals])
            affected = self._lock_for_signal_rows(conn, list(found.values()), now)
            subject_keys = self._subject_keys(conn, found.values())
            done = wsteps.withdraw(conn, withdrawals, found, now)
            alerts.cancel_pending_requests(conn, signal_refs=done.ids)
            audit.write(conn, actor, wsteps.audit_events(partner.organisation, done,
                                                         subject_keys), now)
            self._log_batch(conn, actor, partner.organisation, "withdrawals", batch_id,
                            done.out, (r.purpose for r in found.values()), now)
            attempts = matching.evaluate_standing(conn, self.env, affected, now=now, actor=actor)
            return dict(enumerate(done.out)), attempts

        stored, attempts = store.run_transaction(self.engine, work)
        batch = self._finish([None] * len(withdrawals), stored, attempts)
        self.log.info("signals_withdrawn", partner=partner.organisation, rows=len(withdrawals),
                      accepted=batch.count(ACCEPTED), rejected=batch.count(REJECTED))
        return batch

    def _finish(self, results: list[RowOutcome | None], stored: dict[int, RowOutcome],
                attempts: list[alerts.Attempt]) -> BatchResult:
        """The batch's outcomes in row order, once its transaction committed; new alerts are
        announced only now (counted, metric, streams woken)."""
        for i, r in stored.items():
            results[i] = r
        created = self.announce_created(attempts)
        return BatchResult([r for r in results if r is not None], created)

    def _subject_keys(
        self, conn: sa.Connection, rows: Any
    ) -> dict[int, list[tuple[str, str]]]:
        """signal row id -> [(pseudonym hex, subject type)] for audit entries."""
        rows = list(rows)
        hids = sorted({int(r.household_id) for r in rows if r.household_id is not None})
        pids = sorted({int(r.person_id) for r in rows if r.person_id is not None})
        hkeys = {int(i): bytes(p).hex() for part in store.chunks(hids) for i, p in conn.execute(
            sa.select(households.c.id, households.c.pseudonym).where(households.c.id.in_(part)))}
        pkeys = {int(i): bytes(p).hex() for part in store.chunks(pids) for i, p in conn.execute(
            sa.select(persons.c.id, persons.c.pseudonym).where(persons.c.id.in_(part)))}
        out: dict[int, list[tuple[str, str]]] = {}
        for r in rows:
            keys = []
            if r.household_id is not None:
                keys.append((hkeys[int(r.household_id)], audit.HOUSEHOLD))
            if r.person_id is not None:
                keys.append((pkeys[int(r.person_id)], audit.PERSON))
            out[int(r.id)] = keys
        return out

    def submit_household_links(
        self, caller: Caller, batch_id: str, rows: Sequence[LinkIn]
    ) -> BatchResult:
        """Store the municipality's household links, one transaction per batch (steps:
        `link_steps`)."""
        partner = self.partner(caller)
        if partner.kind != PartnerKind.MUNICIPALITY:
            raise PermissionDenied(
                f"household links come from the municipality gateway only; "
                f"{partner.organisation} is a {partner.kind} partner",
                refusal=catalogue.MUNICIPALITY_ONLY)
        self._check_batch(len(rows))
        results, valid = lsteps.validate(
            rows, lambda row: validate_link(row, self.settings.accepted_key_ids))
        keys = lsteps.pseudonymise(valid, self.pseudonym)
        actor = self._actor(caller)
        purpose = sorted(partner.purposes)[0] if partner.purposes else "brp-household-links"

        def work(conn: sa.Connection) -> tuple[dict[int, RowOutcome], list[alerts.Attempt]]:
            now = self.clock.now()
            locked = lsteps.lock_subjects(conn, keys, now)
            existing = lsteps.stored_link_ids(conn, partner.organisation, valid)
            plan = lsteps.plan(partner.organisation, purpose, valid, keys, locked, existing, now)
            lsteps.write(conn, plan)
            audit.write(conn, actor, plan.events, now)
            self._log_batch(conn, actor, partner.organisation, "household_links", batch_id,
                            [plan.out.get(i, r) for i, r in enumerate(results)], (purpose,),
                            now)
            attempts = matching.evaluate_standing(conn, self.env, plan.affected, now=now,
                                                  actor=actor)
            return plan.out, attempts

        def rejected_only(conn: sa.Connection) -> tuple[dict[int, RowOutcome],
                                                         list[alerts.Attempt]]:
            self._log_batch(conn, actor, partner.organisation, "household_links", batch_id,
                            results, (), self.clock.now())
            return {}, []

        stored, attempts = store.run_transaction(self.engine, work if valid else rejected_only)
        batch = self._finish(results, stored, attempts)
        self.log.info("household_links_received", partner=partner.organisation,
                      rows=len(rows), accepted=batch.count(ACCEPTED),
                      rejected=batch.count(REJECTED))
        return batch
