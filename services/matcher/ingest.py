"""Ingest: signals, withdrawals and household links from the partner gateways (PartnerService).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, cast

import sqlalchemy as sa

from domain.catalogue import PartnerKind
from domain.codes import load_codes
from services.common import metrics
from services.matcher import alerts, audit, matching, store
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
    ValidSignal,
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
        partner = self.partner(caller)
        self._check_batch(len(rows))
        if not batch_id:
            raise InvalidArgument("batch_id is required")
        today = self.clock.today()
        results: list[RowOutcome | None] = [None] * len(rows)
        valid: list[tuple[int, ValidSignal]] = []
        seen: set[str] = set()
        for i, row in enumerate(rows):
            checked = validate_signal(
                row, partner, self.catalogue, self.settings.accepted_key_ids, today
            )
            if isinstance(checked, Rejection):
                results[i] = RowOutcome(row.signal_id, REJECTED, checked.code, checked.reason)
            elif checked.signal_id in seen:
                results[i] = RowOutcome(
                    row.signal_id, DUPLICATE, "duplicate_in_batch",
                    "the same signal_id appears earlier in this batch",
                )
            else:
                seen.add(checked.signal_id)
                valid.append((i, checked))
        hh = {i: self.pseudonym(v.household) for i, v in valid if v.household is not None}
        pp = {i: self.pseudonym(v.person) for i, v in valid if v.person is not None}
        actor = self._actor(caller)

        def work(conn: sa.Connection) -> tuple[dict[int, RowOutcome], list[alerts.Attempt]]:
            now = self.clock.now()
            out: dict[int, RowOutcome] = {}
            person_ids = store.lock_persons(conn, pp.values(), now)
            links = store.links_of_persons(conn, person_ids.values())
            resolved: dict[int, int] = {}
            for i, v in valid:
                if i not in hh and i in pp:
                    home = store.household_on(links.get(person_ids[pp[i]]), v.observed_on)
                    if home is not None:
                        resolved[i] = home
            resolved_keys = {
                int(h): bytes(p)
                for part in store.chunks(sorted(set(resolved.values())))
                for h, p in conn.execute(
                    sa.select(households.c.id, households.c.pseudonym).where(
                        households.c.id.in_(part)
                    )
                )
            }
            household_ids = store.lock_households(
                conn, [*hh.values(), *resolved_keys.values()], now
            )
            existing: set[str] = set()
            ids = [v.signal_id for _, v in valid]
            for part in store.chunks(ids):
                existing.update(
                    str(s)
                    for (s,) in conn.execute(
                        sa.select(signals.c.signal_id).where(
                            signals.c.partner == partner.organisation,
                            signals.c.signal_id.in_(part),
                        )
                    )
                )
            fresh = []
            for i, v in valid:
                if v.signal_id in existing:
                    out[i] = RowOutcome(
                        v.signal_id, DUPLICATE, "already_stored",
                        "stored earlier under this signal_id; nothing changed",
                    )
                else:
                    fresh.append((i, v))
            # Repeats: same partner, type and household (or person, for person-only signals).
            hids = {household_ids[hh[i]] for i, _ in fresh if i in hh}
            pids = {person_ids[pp[i]] for i, _ in fresh if i not in hh and i in pp}
            types = {v.signal_type for _, v in fresh}
            originals: dict[tuple[str, str, int], Any] = {}
            if fresh and (hids or pids):
                # Index columns only in SQL ((household_id, state), (person_id, state)).
                found: list[Any] = []
                for column, ids_ in ((signals.c.household_id, hids), (signals.c.person_id, pids)):
                    for id_part in store.chunks(sorted(ids_)):
                        found.extend(conn.execute(
                            sa.select(signals.c.id, signals.c.signal_id, signals.c.signal_type,
                                      signals.c.partner, signals.c.household_id,
                                      signals.c.person_id, signals.c.observed_on,
                                      signals.c.expires_on)
                            .where(column.in_(id_part), signals.c.state == LIVE)))
                found.sort(key=lambda r: (r.observed_on, r.id))
                for r in found:
                    if (r.partner != partner.organisation or r.signal_type not in types
                            or r.expires_on < today):
                        continue
                    if r.household_id is not None:
                        okey = (r.signal_type, "h", int(r.household_id))
                    elif int(r.person_id) in pids:
                        okey = (r.signal_type, "p", int(r.person_id))
                    else:
                        continue
                    originals[okey] = r
            new_rows: list[tuple[int, ValidSignal, dict[str, Any]]] = []
            merges: list[tuple[int, ValidSignal, dict[str, Any], Any]] = []
            batch_first: dict[tuple[str, str, int], int] = {}
            for i, v in fresh:
                hid = household_ids[hh[i]] if i in hh else None
                pid = person_ids[pp[i]] if i in pp else None
                key: tuple[str, str, int] = (
                    (v.signal_type, "h", hid) if hid is not None
                    else (v.signal_type, "p", pid if pid is not None else 0)
                )
                row: dict[str, Any] = {
                    "partner": partner.organisation,
                    "signal_id": v.signal_id,
                    "partner_kind": partner.kind,
                    "signal_type": v.signal_type,
                    "purpose": v.purpose,
                    "observed_on": v.observed_on,
                    "household_id": hid,
                    "person_id": pid,
                    "area_code": v.area_code,
                    "escalated": v.escalated,
                    "state": LIVE,
                    "merged_into": None,
                    "expires_on": v.expires_on,
                    "retain_until": v.expires_on,
                    "catalogue_version": v.catalogue_version,
                    "batch_id": batch_id[:64],
                    "created_at": now,
                    "updated_at": now,
                }
                target = None if v.escalated else originals.get(key)
                if target is None and not v.escalated and key in batch_first:
                    target = ("batch", batch_first[key])
                if target is None:
                    new_rows.append((i, v, row))
                    batch_first.setdefault(key, len(new_rows) - 1)
                else:
                    merges.append((i, v, row, target))
            new_ids: list[int] = []
            if new_rows:
                result = conn.execute(
                    sa.insert(signals).returning(signals.c.id, sort_by_parameter_order=True),
                    [r for _, _, r in new_rows],
                )
                new_ids = [int(x[0]) for x in result]
            refresh: dict[int, tuple[date, date]] = {}
            merged_rows = []
            for _i, v, row, target in merges:
                if isinstance(target, tuple) and target[0] == "batch":
                    orig_id = new_ids[target[1]]
                    first = new_rows[target[1]][1]
                    orig_obs, orig_exp = first.observed_on, first.expires_on
                else:
                    orig_id = int(target.id)
                    orig_obs, orig_exp = target.observed_on, target.expires_on
                prev = refresh.get(orig_id, (orig_obs, orig_exp))
                refresh[orig_id] = (max(prev[0], v.observed_on), max(prev[1], v.expires_on))
                row.update(state=MERGED, merged_into=orig_id)
                merged_rows.append(row)
            if merged_rows:
                conn.execute(sa.insert(signals), merged_rows)
            if refresh:
                conn.execute(
                    signals.update()
                    .where(signals.c.id == sa.bindparam("sid"))
                    .values(
                        observed_on=sa.bindparam("obs"),
                        expires_on=sa.bindparam("exp"),
                        retain_until=sa.case(
                            (signals.c.retain_until < sa.bindparam("exp2"), sa.bindparam("exp2")),
                            else_=signals.c.retain_until,
                        ),
                        updated_at=now,
                    ),
                    [{"sid": k, "obs": o, "exp": e, "exp2": e} for k, (o, e) in refresh.items()],
                )
            # Area codes per household, results, audit entries, affected households.
            areas: dict[int, str] = {}
            affected: set[int] = set()
            events: list[audit.AuditEvent] = []
            refreshed = {id(row) for row in merged_rows}
            for i, v, row in [*new_rows, *((a, b, c) for a, b, c, _ in merges)]:
                hid = cast(int | None, row["household_id"])
                if hid is not None and v.area_code:
                    areas[hid] = v.area_code
                home = hid if hid is not None else resolved.get(i)
                if home is not None:
                    affected.add(home)
                is_refresh = id(row) in refreshed
                out[i] = RowOutcome(
                    v.signal_id, ACCEPTED,
                    "refreshed" if is_refresh else ("escalated" if v.escalated else ""),
                    "a repeat of a live signal of this type at this household: it refreshed "
                    "the earlier signal's date and does not count again (not escalated)"
                    if is_refresh else "",
                )
                attrs = {"partner": partner.organisation, "signal_id": v.signal_id,
                         "signal_type": v.signal_type, "batch_id": batch_id[:64],
                         "observed_on": v.observed_on.isoformat()}
                name = "signal_refreshed" if is_refresh else "signal_received"
                if i in hh:
                    events.append(audit.AuditEvent(name, v.purpose, hh[i].hex(),
                                                   audit.HOUSEHOLD, attrs))
                if i in pp:
                    events.append(audit.AuditEvent(name, v.purpose, pp[i].hex(),
                                                   audit.PERSON, attrs))
            store.set_area_codes(conn, areas)
            audit.write(conn, actor, events, now)
            attempts = matching.evaluate_standing(conn, self.env, affected, now=now, actor=actor)
            return out, attempts

        stored, attempts = store.run_transaction(self.engine, work) if valid else ({}, [])
        for i, r in stored.items():
            results[i] = r
        created = sum(1 for a in attempts if a.result is alerts.AttemptResult.CREATED)
        if created:
            metrics.alerts_created(created)
            self.notifier.notify()
        final = [r for r in results if r is not None]
        batch = BatchResult(final, created)
        self.log.info("signals_received", partner=partner.organisation, batch_id=batch_id[:64],
                      rows=len(rows), accepted=batch.count(ACCEPTED),
                      duplicate=batch.count(DUPLICATE), rejected=batch.count(REJECTED),
                      alerts_created=created)
        return batch

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
        created = sum(1 for a in attempts if a.result is alerts.AttemptResult.CREATED)
        if created:
            metrics.alerts_created(created)
            self.notifier.notify()
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
        created = sum(1 for a in attempts if a.result is alerts.AttemptResult.CREATED)
        if created:
            metrics.alerts_created(created)
            self.notifier.notify()
        batch = BatchResult([r for r in results if r is not None], created)
        self.log.info("household_links_received", partner=partner.organisation,
                      rows=len(rows), accepted=batch.count(ACCEPTED),
                      rejected=batch.count(REJECTED))
        return batch
