"""Ingest: signals, withdrawals and household links from the partner gateways (PartnerService).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from domain.catalogue import PartnerKind
from domain.codes import load_codes
from services.matcher import alerts, audit, matching, store
from services.matcher import signal_steps as steps
from services.matcher.core import MatcherCore, check_code
from services.matcher.errors import (
    InvalidArgument,
    PermissionDenied,
)
from services.matcher.schema import (
    LIVE,
    MERGED,
    WITHDRAWN,
    household_links,
    households,
    persons,
    signals,
)
from services.matcher.validation import (
    LinkIn,
    Rejection,
    SignalIn,
    ValidLink,
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
            affected = steps.audit_outcomes(conn, batch, plan, homes, out, actor, now)
            attempts = matching.evaluate_standing(conn, self.env, affected, now=now, actor=actor)
            return out, attempts

        stored, attempts = store.run_transaction(self.engine, work) if valid else ({}, [])
        for i, r in stored.items():
            results[i] = r
        created = self.announce_created(attempts)
        final = [r for r in results if r is not None]
        result = BatchResult(final, created)
        self.log.info("signals_received", partner=partner.organisation, batch_id=batch_id[:64],
                      rows=len(rows), accepted=result.count(ACCEPTED),
                      duplicate=result.count(DUPLICATE), rejected=result.count(REJECTED),
                      alerts_created=created)
        return result

    def withdraw_signals(
        self, caller: Caller, batch_id: str, withdrawals: Sequence[tuple[str, str]]
    ) -> BatchResult:
        partner = self.partner(caller)
        self._check_batch(len(withdrawals))
        reasons = load_codes().withdrawal_reason
        for i, (_, code) in enumerate(withdrawals):
            if code:  # optional, but a code from the list when given (never free text)
                check_code(reasons, code, f"withdrawals[{i}].reason_code")
        actor = self._actor(caller)
        ids = [sid for sid, _ in withdrawals]

        def work(conn: sa.Connection) -> tuple[list[RowOutcome], list[alerts.Attempt]]:
            now = self.clock.now()
            found = {}
            for part in store.chunks(sorted(set(ids))):
                for r in conn.execute(
                    sa.select(signals.c.id, signals.c.signal_id, signals.c.household_id,
                              signals.c.person_id, signals.c.observed_on, signals.c.purpose,
                              signals.c.signal_type)
                    .where(signals.c.partner == partner.organisation,
                           signals.c.signal_id.in_(part))
                ):
                    found[str(r.signal_id)] = r
            affected = self._lock_for_signal_rows(conn, list(found.values()), now)
            out: list[RowOutcome] = []
            withdrawn_ids: list[int] = []
            events: list[audit.AuditEvent] = []
            subject_keys = self._subject_keys(conn, found.values())
            done: set[str] = set()
            for sid, reason_code in withdrawals:
                r = found.get(sid)  # type: ignore[assignment]
                if r is None:
                    out.append(RowOutcome(sid, REJECTED, "unknown_signal",
                                          "no signal with this signal_id from this partner"))
                    continue
                if sid in done:
                    out.append(RowOutcome(sid, DUPLICATE, "duplicate_in_batch",
                                          "the same signal_id appears earlier in this batch"))
                    continue
                done.add(sid)
                result = conn.execute(
                    signals.update()
                    .where(sa.or_(signals.c.id == r.id, signals.c.merged_into == r.id),
                           signals.c.state.in_([LIVE, MERGED]))
                    .values(state=WITHDRAWN, withdrawn_at=now,
                            withdraw_reason=reason_code or None, updated_at=now)
                )
                if not result.rowcount:
                    out.append(RowOutcome(sid, DUPLICATE, "not_live",
                                          "already withdrawn, expired or purged; nothing changed"))
                    continue
                withdrawn_ids.append(int(r.id))
                out.append(RowOutcome(sid, ACCEPTED))
                attrs = {"partner": partner.organisation, "signal_id": sid,
                         "signal_type": r.signal_type, "reason_code": reason_code or ""}
                for key, kind in subject_keys.get(int(r.id), []):
                    events.append(audit.AuditEvent("signal_withdrawn", r.purpose, key, kind,
                                                   attrs))
            alerts.cancel_pending_requests(conn, signal_refs=withdrawn_ids)
            audit.write(conn, actor, events, now)
            attempts = matching.evaluate_standing(conn, self.env, affected, now=now, actor=actor)
            return out, attempts

        results, attempts = store.run_transaction(self.engine, work)
        created = self.announce_created(attempts)
        batch = BatchResult(results, created)
        self.log.info("signals_withdrawn", partner=partner.organisation, rows=len(withdrawals),
                      accepted=batch.count(ACCEPTED), rejected=batch.count(REJECTED))
        return batch

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
        partner = self.partner(caller)
        if partner.kind != PartnerKind.MUNICIPALITY:
            raise PermissionDenied(
                f"household links come from the municipality gateway only; "
                f"{partner.organisation} is a {partner.kind} partner"
            )
        self._check_batch(len(rows))
        results: list[RowOutcome | None] = [None] * len(rows)
        valid: list[tuple[int, ValidLink]] = []
        seen: set[str] = set()
        for i, row in enumerate(rows):
            checked = validate_link(row, self.settings.accepted_key_ids)
            if isinstance(checked, Rejection):
                results[i] = RowOutcome(row.link_id, REJECTED, checked.code, checked.reason)
            elif checked.link_id in seen:
                results[i] = RowOutcome(row.link_id, DUPLICATE, "duplicate_in_batch",
                                        "the same link_id appears earlier in this batch")
            else:
                seen.add(checked.link_id)
                valid.append((i, checked))
        pp = {i: self.pseudonym(v.person) for i, v in valid}
        hh = {i: self.pseudonym(v.household) for i, v in valid}
        actor = self._actor(caller)
        purpose = sorted(partner.purposes)[0] if partner.purposes else "brp-household-links"

        def work(conn: sa.Connection) -> tuple[dict[int, RowOutcome], list[alerts.Attempt]]:
            now = self.clock.now()
            person_ids = store.lock_persons(conn, pp.values(), now)
            before = store.links_of_persons(conn, person_ids.values())
            old_hids = {link.household_id for links in before.values() for link in links}
            old_keys = [
                bytes(p)
                for part in store.chunks(sorted(old_hids))
                for (p,) in conn.execute(
                    sa.select(households.c.pseudonym).where(households.c.id.in_(part)))
            ]
            household_ids = store.lock_households(conn, [*hh.values(), *old_keys], now)
            existing: set[str] = set()
            for part in store.chunks([v.link_id for _, v in valid]):
                existing.update(str(x) for (x,) in conn.execute(
                    sa.select(household_links.c.link_id).where(
                        household_links.c.partner == partner.organisation,
                        household_links.c.link_id.in_(part))))
            out: dict[int, RowOutcome] = {}
            inserts = []
            events = []
            areas: dict[int, str] = {}
            affected: set[int] = set()
            for i, v in valid:
                if v.link_id in existing:
                    out[i] = RowOutcome(v.link_id, DUPLICATE, "already_stored",
                                        "stored earlier under this link_id; nothing changed")
                    continue
                pid, hid = person_ids[pp[i]], household_ids[hh[i]]
                inserts.append({"partner": partner.organisation, "link_id": v.link_id,
                                "person_id": pid, "household_id": hid,
                                "valid_from": v.valid_from, "area_code": v.area_code,
                                "created_at": now})
                if v.area_code:
                    areas[hid] = v.area_code
                affected.add(hid)
                affected.update(link.household_id for link in before.get(pid, []))
                out[i] = RowOutcome(v.link_id, ACCEPTED)
                attrs = {"partner": partner.organisation, "link_id": v.link_id,
                         "valid_from": v.valid_from.isoformat()}
                events.append(audit.AuditEvent("household_link_received", purpose,
                                               pp[i].hex(), audit.PERSON, attrs))
                events.append(audit.AuditEvent("household_link_received", purpose,
                                               hh[i].hex(), audit.HOUSEHOLD, attrs))
            if inserts:
                conn.execute(sa.insert(household_links), inserts)
            store.set_area_codes(conn, areas)
            audit.write(conn, actor, events, now)
            attempts = matching.evaluate_standing(conn, self.env, affected, now=now, actor=actor)
            return out, attempts

        stored, attempts = store.run_transaction(self.engine, work) if valid else ({}, [])
        for i, r in stored.items():
            results[i] = r
        created = self.announce_created(attempts)
        batch = BatchResult([r for r in results if r is not None], created)
        self.log.info("household_links_received", partner=partner.organisation,
                      rows=len(rows), accepted=batch.count(ACCEPTED),
                      rejected=batch.count(REJECTED))
        return batch
