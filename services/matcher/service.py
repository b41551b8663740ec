"""The matcher's application core: every use case as one method, one transaction each.

The gRPC servicers translate protobuf to the plain values used here and errors to status codes;
everything that decides is here or in the pure modules it calls (`validation`, `reveal`,
`policies.*`). A `Caller` is the organisation and role from the client certificate.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crypto.pseudonyms import matcher_pseudonym
from crypto.signing import SigningKey
from domain.catalogue import Catalogue, PartnerKind
from domain.codes import CodeList, UnknownCode, check_regisseur, load_codes
from domain.errors import InvalidValue
from policies.canonical import policy_digest
from policies.errors import PolicyError, PolicyInvalid
from policies.fairness import FairnessReport, fairness_report
from policies.lint import lint_document
from policies.model import Policy, PolicyMode, parse_policy
from policies.revocation import Revocation, verify_revocation
from policies.simulate import SimulationReport, summarise_simulation
from policies.source import parse_yaml
from services.common import metrics
from services.common.logging import get_logger
from services.matcher import alerts, audit, matching, store
from services.matcher import inquiries as inquiry_rules
from services.matcher.authorization import controller_refusal
from services.matcher.clock import Clock, to_utc_aware
from services.matcher.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    MatcherError,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
)
from services.matcher.notify import POLL_INTERVAL, Notifier
from services.matcher.policy_registry import (
    ACTIVE,
    REVOKED,
    SUPERSEDED,
    ActivePolicy,
    PolicyRegistry,
)
from services.matcher.schema import (
    ANSWERED,
    ASSIGNED,
    CLOSED,
    LIVE,
    MERGED,
    OPEN,
    PENDING,
    REVIEWED,
    WITHDRAWN,
    alert_signals,
    audit_events,
    disclosures,
    household_links,
    households,
    inquiries,
    persons,
    policies,
    reveal_requests,
    signals,
)
from services.matcher.schema import (
    alerts as alerts_t,
)
from services.matcher.settings import MatcherSettings, PartnerEntry
from services.matcher.validation import (
    LinkIn,
    PseudonymIn,
    Rejection,
    SignalIn,
    ValidLink,
    ValidSignal,
    check_pseudonym,
    validate_link,
    validate_signal,
)
from services.matcher.visibility import audit_scope

ACCEPTED = "accepted"
DUPLICATE = "duplicate"
REJECTED = "rejected"

MAX_PULL = 1000
MAX_WAIT = 60.0
MAX_SEALED_BYTES = 64 * 1024


@dataclass(frozen=True)
class Caller:
    organisation: str
    role: str


@dataclass(frozen=True)
class RowOutcome:
    id: str
    outcome: str
    reason_code: str = ""
    reason: str = ""


@dataclass
class BatchResult:
    results: list[RowOutcome]
    alerts_created: int = 0

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.results if r.outcome == outcome)


@dataclass(frozen=True)
class InquiryView:
    name_id: str
    policy_id: str
    household: PseudonymIn | None
    requester_role: str
    reason: str
    request_id: str
    answer: str  # indicated | not_indicated (inquiries.INDICATED / NOT_INDICATED)
    created_at: datetime


@dataclass(frozen=True)
class RevealRequestView:
    name_id: str
    alert_name_id: str
    payload: bytes
    signature: bytes
    key_id: str
    document: dict[str, Any]


@dataclass(frozen=True)
class DisclosureView:
    name_id: str
    alert_name_id: str
    partner: str
    partner_kind: str
    fields: tuple[str, ...]
    ciphertext: bytes | None
    recipient_public_key: str | None
    refusal_reason: str | None
    created_at: datetime
    audit_index: int


@dataclass(frozen=True)
class ContributingView:
    signal_type: str
    partner_kind: str
    observed_on: date


@dataclass
class AlertView:
    id: int
    name_id: str
    policy_id: str
    policy_version: int
    policy_digest: str
    team: str
    state: str
    domains: tuple[str, ...]
    mode: str
    regisseur: str | None
    decision: str | None
    outcome: str | None
    created_at: datetime
    updated_at: datetime
    household_id: int
    household_pseudonym: bytes
    processing_activity_id: str = ""
    decision_reason: str | None = None
    traceparent: str = ""
    signals: list[ContributingView] = field(default_factory=list)
    disclosures: list[DisclosureView] = field(default_factory=list)


@dataclass(frozen=True)
class PolicyView:
    policy_id: str
    version: int
    digest: str
    document_json: str
    state: str  # active | revoked | out_of_validity
    revoke_reason: str | None
    published_at: datetime
    revoked_at: datetime | None
    revocation: dict[str, Any] | None = None
    """The signed revocation statement (policies.revocation), when revoked with one."""


@dataclass(frozen=True)
class AuditEntryView:
    index: int
    row: dict[str, Any]


class Matcher:
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
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.signing_key = signing_key
        self._hmac_key = hmac_key
        self.registry = registry
        self.catalogue = catalogue
        self.clock = clock
        self.notifier = Notifier()
        self.env = matching.MatchEnv(
            registry=registry,
            catalogue=catalogue,
            signing_key=signing_key,
            reveal_ttl=settings.reveal_request_ttl,
            alert_signal_retention_days=settings.alert_signal_retention_days,
        )

    # ----------------------------------------------------------------- helpers

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
                f"organisation {caller.organisation!r} is not a registered partner of this matcher"
            )
        return entry

    def _actor(self, caller: Caller) -> audit.Actor:
        return audit.Actor.from_current_span(caller.organisation, caller.role, self.clock.now())

    def _check_batch(self, n: int) -> None:
        if n > self.settings.max_batch_rows:
            raise InvalidArgument(
                f"a batch holds at most {self.settings.max_batch_rows} rows, got {n}"
            )

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

    # ----------------------------------------------------------------- PartnerService

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
                _check_code(reasons, code, f"withdrawals[{i}].reason_code")
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

    def create_inquiry(
        self,
        caller: Caller,
        *,
        policy_name: str,
        household: PseudonymIn | None,
        requester_role: str,
        reason: str,
        request_id: str,
    ) -> InquiryView:
        """Answer one involved professional's question with one bit (`services/matcher/
        inquiries.py` holds the rules: involvement, rate limit, request_id binding)."""
        partner = self.partner(caller)
        policy_id = _resource_id(policy_name, "policies")
        if household is None:
            raise InvalidArgument("inquiry.household is required")
        bad = check_pseudonym(household, "household", self.settings.accepted_key_ids)
        if bad:
            raise InvalidArgument(bad.reason)
        codes = load_codes()
        _check_code(codes.requester_role, requester_role, "inquiry.requester_role")
        _check_code(codes.inquiry_reason, reason, "inquiry.reason")
        if not inquiry_rules.REQUEST_ID.fullmatch(request_id):
            raise InvalidArgument(
                "inquiry.request_id is required: 1-128 letters, digits, '.', '_', ':' or '-' "
                "(e.g. a UUID), starting with a letter or digit")
        key = self.pseudonym(household)
        content = inquiry_rules.InquiryContent(policy_id, key, requester_role, reason)
        actor = self._actor(caller)
        org = partner.organisation

        def refuse(conn: sa.Connection, now: datetime, activity: str, code: str) -> None:
            audit.write(conn, actor, [audit.AuditEvent(
                "inquiry_refused", activity, key.hex(), audit.HOUSEHOLD,
                {"policy": f"policies/{policy_id}", "requester_organisation": org,
                 "requester_role": requester_role, "reason": reason, "refusal": code})], now)

        def work(conn: sa.Connection) -> tuple[InquiryView | MatcherError, bool]:
            now = self.clock.now()
            inquiry_rules.lock_partner(conn, org)
            prior = inquiry_rules.earlier(conn, org, request_id)
            if prior is not None:
                if content.same_as(prior):
                    return self._inquiry_view(prior, household), False
                refuse(conn, now, self._activity(conn, policy_id),
                       inquiry_rules.REQUEST_ID_REUSED)
                return AlreadyExists(
                    "inquiry.request_id was used before for another inquiry (household, policy, "
                    "role or reason); use a new request_id for a new question"), False
            active = self.registry.active_by_id(conn, policy_id, now.date())
            if active is None:
                raise NotFound(f"policies/{policy_id} is not a published policy in force")
            if active.policy.mode is not PolicyMode.ON_REQUEST:
                raise FailedPrecondition(
                    f"policies/{policy_id} is a standing policy; inquiries are for on_request "
                    "policies")
            if not (partner.purposes & active.policy.purposes):
                raise PermissionDenied(
                    f"partner {org} has no purpose that policies/{policy_id} covers")
            activity = active.policy.processing_activity_id
            window = inquiry_rules.limit_exceeded(conn, org, self.settings.inquiries, now)
            if window is not None:
                refuse(conn, now, activity, inquiry_rules.RATE_LIMITED)
                limit = getattr(self.settings.inquiries, window)
                return ResourceExhausted(
                    f"partner {org} reached its inquiry limit ({limit} {window.replace('_', ' ')}"
                    "); try again later or ask the matcher operator about the limit"), False
            result = inquiry_rules.evaluate(conn, self.env, active, key, org, now=now,
                                            actor=actor)
            name_id = alerts.new_name_id()
            refusal = None if result.involved else inquiry_rules.NOT_INVOLVED
            conn.execute(sa.insert(inquiries), {
                "name_id": name_id, "partner": org, "request_id": request_id,
                "policy_id": policy_id, "household_pseudonym": key,
                "requester_role": requester_role, "reason": reason, "answer": result.answer,
                "refusal": refusal, "created_at": now,
            })
            attempt = result.attempt
            attrs = {"inquiry": f"inquiries/{name_id}", "policy": active.policy.ref,
                     "requester_organisation": org, "requester_role": requester_role,
                     "reason": reason, "result": result.answer}
            if refusal is not None:
                attrs["refusal"] = refusal
            if attempt is not None and attempt.alert_name_id:
                attrs["alert"] = f"alerts/{attempt.alert_name_id}"
            audit.write(conn, actor, [audit.AuditEvent(
                "inquiry_refused" if refusal else "inquiry_received", activity, key.hex(),
                audit.HOUSEHOLD, attrs)], now)
            view = InquiryView(name_id, policy_id, household, requester_role, reason, request_id,
                               result.answer, now)
            created = attempt is not None and attempt.result is alerts.AttemptResult.CREATED
            return view, created

        outcome, created = store.run_transaction(self.engine, work)
        if isinstance(outcome, MatcherError):
            self.log.info("inquiry_refused", partner=org, policy=policy_id,
                          refusal=type(outcome).__name__)
            raise outcome
        if created:
            metrics.alerts_created(1)
            self.notifier.notify()
        self.log.info("inquiry_answered", partner=org, policy=policy_id)
        return outcome

    @staticmethod
    def _inquiry_view(row: Any, household: PseudonymIn | None) -> InquiryView:
        return InquiryView(row.name_id, row.policy_id, household, row.requester_role, row.reason,
                           row.request_id, row.answer, row.created_at)

    def pull_reveal_requests(
        self, caller: Caller, max_requests: int, wait_seconds: float,
        is_active: Callable[[], bool] = lambda: True,
    ) -> list[RevealRequestView]:
        partner = self.partner(caller)
        limit = max(1, min(max_requests or 100, MAX_PULL))
        deadline = time.monotonic() + max(0.0, min(wait_seconds, MAX_WAIT))
        actor = self._actor(caller)
        while True:
            seen = self.notifier.generation
            found = store.run_transaction(
                self.engine, lambda conn: self._deliver(conn, partner, limit, actor))
            if found or time.monotonic() >= deadline or not is_active():
                return found
            self.notifier.wait(seen, min(POLL_INTERVAL, max(0.0, deadline - time.monotonic())))

    def _deliver(
        self, conn: sa.Connection, partner: PartnerEntry, limit: int, actor: audit.Actor
    ) -> list[RevealRequestView]:
        now = self.clock.now()
        rows = conn.execute(
            sa.select(reveal_requests, alerts_t.c.name_id.label("alert_name_id"),
                      alerts_t.c.policy_id.label("alert_policy_id"),
                      households.c.pseudonym.label("household_pseudonym"))
            .join(alerts_t, alerts_t.c.id == reveal_requests.c.alert_id)
            .join(households, households.c.id == alerts_t.c.household_id)
            .where(reveal_requests.c.partner == partner.organisation,
                   reveal_requests.c.state == PENDING,
                   reveal_requests.c.expire_at > now)
            .order_by(reveal_requests.c.id)
            .limit(limit)
        ).all()
        if not rows:
            return []
        conn.execute(
            reveal_requests.update()
            .where(reveal_requests.c.id.in_([r.id for r in rows]))
            .values(delivered_count=reveal_requests.c.delivered_count + 1, last_delivered_at=now)
        )
        events = [
            audit.AuditEvent(
                "reveal_request_delivered", self._activity(conn, r.alert_policy_id),
                bytes(r.household_pseudonym).hex(), audit.HOUSEHOLD,
                {"reveal_request": f"revealRequests/{r.name_id}", "partner": r.partner,
                 "delivery": str(int(r.delivered_count) + 1)})
            for r in rows
        ]
        audit.write(conn, actor, events, now)
        return [
            RevealRequestView(r.name_id, r.alert_name_id, bytes(r.payload), bytes(r.signature),
                              r.key_id, json.loads(bytes(r.payload)))
            for r in rows
        ]

    @staticmethod
    def _latest_version(conn: sa.Connection, policy_id: str) -> sa.Row[Any] | None:
        """The latest published version of a policy, or None if it was never published."""
        return conn.execute(
            sa.select(policies).where(policies.c.policy_id == policy_id)
            .order_by(policies.c.version.desc()).limit(1)
        ).first()

    def _activity(self, conn: sa.Connection, policy_id: str) -> str:
        """The processing activity id of a policy (latest published version)."""
        row = self._latest_version(conn, policy_id)
        if row is None:
            return policy_id
        return self.registry.parsed(row.digest, row.document_json).processing_activity_id

    def submit_disclosure(
        self,
        caller: Caller,
        reveal_request: str,
        *,
        sealed: tuple[bytes, str] | None,
        refusal: tuple[str, str] | None,
    ) -> DisclosureView:
        partner = self.partner(caller)
        rr_id = _resource_id(reveal_request, "revealRequests")
        if (sealed is None) == (refusal is None):
            raise InvalidArgument("exactly one of sealed or refusal is required")
        if sealed is not None:
            if not sealed[0]:
                raise InvalidArgument("sealed.ciphertext is required")
            if len(sealed[0]) > MAX_SEALED_BYTES:
                raise InvalidArgument(f"sealed.ciphertext is larger than {MAX_SEALED_BYTES} bytes")
        actor = self._actor(caller)

        def work(conn: sa.Connection) -> DisclosureView:
            now = self.clock.now()
            rr = conn.execute(
                sa.select(reveal_requests, alerts_t.c.name_id.label("alert_name_id"),
                          alerts_t.c.policy_id.label("alert_policy_id"),
                          households.c.pseudonym.label("household_pseudonym"))
                .join(alerts_t, alerts_t.c.id == reveal_requests.c.alert_id)
                .join(households, households.c.id == alerts_t.c.household_id)
                .where(reveal_requests.c.name_id == rr_id)
            ).first()
            if rr is None or rr.partner != partner.organisation:
                raise NotFound(f"revealRequests/{rr_id} not found")
            document = json.loads(bytes(rr.payload))
            if sealed is not None and sealed[1] != document["recipient_public_key"]:
                raise InvalidArgument(
                    "sealed.recipient_public_key is not the recipient key of the policy")
            claimed = conn.execute(
                reveal_requests.update()
                .where(reveal_requests.c.id == rr.id, reveal_requests.c.state == PENDING)
                .values(state=ANSWERED)
            ).rowcount
            if not claimed:
                prior = conn.execute(sa.select(disclosures).where(
                    disclosures.c.reveal_request_id == rr.id)).first()
                if prior is not None:
                    return self._disclosure_view(prior, rr.alert_name_id)
                raise FailedPrecondition(
                    f"revealRequests/{rr_id} is {rr.state}: no answer is expected any more")
            if sealed is not None and rr.expire_at <= now:
                raise FailedPrecondition(f"revealRequests/{rr_id} expired; it was not answered")
            name = "disclosure_received" if sealed is not None else "disclosure_refused"
            d_name = alerts.new_name_id()
            attrs = {"alert": f"alerts/{rr.alert_name_id}",
                     "reveal_request": f"revealRequests/{rr_id}", "partner": rr.partner,
                     "disclosure": f"alerts/{rr.alert_name_id}/disclosures/{d_name}"}
            if refusal is not None:
                attrs["refusal_reason"] = refusal[0]
            else:
                attrs["fields"] = ",".join(rr.fields)
            [index] = audit.write(conn, actor, [audit.AuditEvent(
                name, self._activity(conn, rr.alert_policy_id),
                bytes(rr.household_pseudonym).hex(), audit.HOUSEHOLD, attrs)], now)
            values = {
                "name_id": d_name, "alert_id": rr.alert_id, "reveal_request_id": rr.id,
                "partner": rr.partner, "partner_kind": rr.partner_kind, "fields": rr.fields,
                "ciphertext": sealed[0] if sealed else None,
                "recipient_public_key": sealed[1] if sealed else None,
                "refusal_reason": refusal[0] if refusal else None,
                "refusal_detail": refusal[1][:500] if refusal else None,
                "audit_index": index, "created_at": now,
            }
            conn.execute(sa.insert(disclosures), values)
            conn.execute(alerts_t.update().where(alerts_t.c.id == rr.alert_id)
                         .values(updated_at=now))
            return DisclosureView(d_name, rr.alert_name_id, rr.partner, rr.partner_kind,
                                  tuple(rr.fields), values["ciphertext"],
                                  values["recipient_public_key"], values["refusal_reason"],
                                  now, index)

        view = store.run_transaction(self.engine, work)
        self.notifier.notify()
        self.log.info("disclosure_answered", partner=partner.organisation,
                      refused=view.refusal_reason is not None)
        return view

    @staticmethod
    def _disclosure_view(row: Any, alert_name_id: str) -> DisclosureView:
        return DisclosureView(row.name_id, alert_name_id, row.partner, row.partner_kind,
                              tuple(row.fields),
                              None if row.ciphertext is None else bytes(row.ciphertext),
                              row.recipient_public_key, row.refusal_reason, row.created_at,
                              int(row.audit_index))

    # ----------------------------------------------------------------- WijkteamService

    def _alert_views(
        self, conn: sa.Connection, rows: Sequence[Any], *, detail: bool
    ) -> list[AlertView]:
        views = []
        for r in rows:
            views.append(AlertView(
                id=int(r.id), name_id=r.name_id, policy_id=r.policy_id,
                policy_version=int(r.policy_version), policy_digest=r.policy_digest,
                team=r.team, state=r.state, domains=tuple(r.domains), mode=r.mode,
                regisseur=r.regisseur, decision=r.decision, outcome=r.outcome,
                decision_reason=r.decision_reason, traceparent=r.traceparent,
                created_at=r.created_at, updated_at=r.updated_at,
                household_id=int(r.household_id), household_pseudonym=bytes(r.pseudonym),
                processing_activity_id=self._activity(conn, r.policy_id)))
        if not views:
            return views
        by_id = {v.id: v for v in views}
        for s in conn.execute(
            sa.select(alert_signals).where(alert_signals.c.alert_id.in_(list(by_id)))
            .order_by(alert_signals.c.observed_on, alert_signals.c.id)
        ):
            by_id[int(s.alert_id)].signals.append(
                ContributingView(s.signal_type, s.partner_kind, s.observed_on))
        if detail:
            for d in conn.execute(
                sa.select(disclosures).where(disclosures.c.alert_id.in_(list(by_id)))
                .order_by(disclosures.c.id)
            ):
                v = by_id[int(d.alert_id)]
                v.disclosures.append(self._disclosure_view(d, v.name_id))
        return views

    def _alert_query(self) -> sa.Select[Any]:
        return sa.select(alerts_t, households.c.pseudonym).join(
            households, households.c.id == alerts_t.c.household_id)

    def _log_alert_reads(
        self, conn: sa.Connection, actor: audit.Actor, name: str, views: Sequence[AlertView],
        now: datetime, extra: dict[str, str] | None = None,
    ) -> None:
        audit.write(conn, actor, [
            audit.AuditEvent(name, v.processing_activity_id, v.household_pseudonym.hex(),
                             audit.HOUSEHOLD, {"alert": f"alerts/{v.name_id}", "team": v.team,
                                               **(extra or {})})
            for v in views], now)

    def list_alerts(
        self, caller: Caller, page_size: int, page_token: str, state: str | None
    ) -> tuple[list[AlertView], str]:
        size = max(1, min(page_size or 50, 500))
        before = _page_token(page_token)
        actor = self._actor(caller)

        def work(conn: sa.Connection) -> tuple[list[AlertView], str]:
            query = self._alert_query().where(alerts_t.c.team == caller.organisation)
            if before is not None:
                query = query.where(alerts_t.c.id < before)
            if state:
                query = query.where(alerts_t.c.state == state)
            rows = conn.execute(query.order_by(alerts_t.c.id.desc()).limit(size + 1)).all()
            more = len(rows) > size
            views = self._alert_views(conn, rows[:size], detail=False)
            self._log_alert_reads(conn, actor, "alert_listed", views, self.clock.now())
            return views, (str(views[-1].id) if more and views else "")

        return store.run_transaction(self.engine, work)

    def get_alert(self, caller: Caller, name: str) -> AlertView:
        alert_id = _resource_id(name, "alerts")
        actor = self._actor(caller)

        def work(conn: sa.Connection) -> AlertView:
            view = self._team_alert(conn, caller, alert_id)
            self._log_alert_reads(conn, actor, "alert_viewed", [view], self.clock.now())
            return view

        return store.run_transaction(self.engine, work)

    def _team_alert(self, conn: sa.Connection, caller: Caller, alert_id: str) -> AlertView:
        row = conn.execute(self._alert_query().where(alerts_t.c.name_id == alert_id)).first()
        # Another team's alert is indistinguishable from one that does not exist.
        if row is None or row.team != caller.organisation:
            raise NotFound(f"alerts/{alert_id} not found")
        return self._alert_views(conn, [row], detail=True)[0]

    def stream_alerts(
        self, caller: Caller, after: str, is_active: Callable[[], bool]
    ) -> Iterator[AlertView]:
        """New alerts for the caller's team as they appear (polls, woken by this process).

        The starting point (`after`, or the newest alert now) is fixed when this is called,
        not when the first alert is read: the servicer calls it on entry and only then tells
        the client the stream is open, so an alert committed after that is never skipped.
        """
        actor = self._actor(caller)

        def start(conn: sa.Connection) -> int:
            if after:
                row = conn.execute(sa.select(alerts_t.c.id, alerts_t.c.team).where(
                    alerts_t.c.name_id == _resource_id(after, "alerts"))).first()
                if row is None or row.team != caller.organisation:
                    raise NotFound(f"{after} not found")
                return int(row.id)
            return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(alerts_t.c.id), 0))
                                    ).scalar_one())

        return self._alerts_after(caller, actor, store.run_transaction(self.engine, start),
                                  is_active)

    def _alerts_after(
        self, caller: Caller, actor: audit.Actor, floor: int, is_active: Callable[[], bool]
    ) -> Iterator[AlertView]:
        """The caller's team's alerts with ids above `floor`, as they commit."""
        last = floor  # never send anything at or before the starting point
        sent: dict[int, datetime] = {}
        while is_active():
            seen = self.notifier.generation

            def poll(conn: sa.Connection, last: int = last) -> list[AlertView]:
                now = self.clock.now()
                # Ids come from a sequence; a transaction may commit a lower id after a higher
                # one is visible, so look back over the last minute too and skip what was sent.
                recent = now - timedelta(seconds=60)
                rows = conn.execute(self._alert_query().where(
                    alerts_t.c.team == caller.organisation,
                    sa.or_(alerts_t.c.id > last, alerts_t.c.created_at >= recent))
                    .order_by(alerts_t.c.id)).all()
                rows = [r for r in rows if int(r.id) not in sent and int(r.id) > floor]
                views = self._alert_views(conn, rows, detail=False)
                self._log_alert_reads(conn, actor, "alert_streamed", views, now)
                return views

            for view in store.run_transaction(self.engine, poll):
                sent[view.id] = view.created_at
                last = max(last, view.id)
                yield view
            horizon = self.clock.now() - timedelta(seconds=120)
            for k in [k for k, t in sent.items() if t < horizon]:
                del sent[k]
            self.notifier.wait(seen, POLL_INTERVAL)

    def _transition(
        self, caller: Caller, name: str, event: str,
        change: Callable[[AlertView], dict[str, Any]], extra: Callable[[AlertView], dict[str, str]],
    ) -> AlertView:
        alert_id = _resource_id(name, "alerts")
        actor = self._actor(caller)

        def work(conn: sa.Connection) -> AlertView:
            now = self.clock.now()
            conn.execute(sa.select(alerts_t.c.id).where(alerts_t.c.name_id == alert_id)
                         .with_for_update()).first()
            view = self._team_alert(conn, caller, alert_id)
            values = change(view)
            values["updated_at"] = now
            if values.get("state") == CLOSED:
                values["closed_at"] = now
                values["closed_on"] = now.date()
                values["retain_until"] = now.date() + timedelta(
                    days=self._retention_days(conn, view))
                alerts.cancel_pending_requests(conn, alert_ids=[view.id])
            conn.execute(alerts_t.update().where(alerts_t.c.id == view.id).values(**values))
            self._log_alert_reads(conn, actor, event, [view], now, extra(view))
            return self._team_alert(conn, caller, alert_id)

        return store.run_transaction(self.engine, work)

    def _retention_days(self, conn: sa.Connection, view: AlertView) -> int:
        row = conn.execute(sa.select(policies.c.digest, policies.c.document_json).where(
            policies.c.digest == view.policy_digest)).first()
        if row is None:
            return 365
        return self.registry.parsed(row.digest, row.document_json).retention.alert_days

    def assign_alert(self, caller: Caller, name: str, regisseur: str) -> AlertView:
        try:
            check_regisseur(regisseur)
        except InvalidValue as exc:
            raise InvalidArgument(str(exc)) from None

        def change(v: AlertView) -> dict[str, Any]:
            if v.state not in (OPEN, ASSIGNED):
                raise FailedPrecondition(f"alerts/{v.name_id} is {v.state}; it cannot be assigned")
            return {"state": ASSIGNED, "regisseur": regisseur}

        return self._transition(caller, name, "alert_assigned", change,
                                lambda v: {"regisseur": regisseur})

    def review_alert(self, caller: Caller, name: str, decision: str, reason: str) -> AlertView:
        if not decision:
            raise InvalidArgument("decision is required")
        _check_code(load_codes().review_decision_reason, reason, "reason")

        def change(v: AlertView) -> dict[str, Any]:
            if v.state not in (ASSIGNED, REVIEWED):
                raise FailedPrecondition(
                    f"alerts/{v.name_id} is {v.state}; a regisseur must be assigned before the "
                    "review (human in the loop)")
            return {"state": REVIEWED, "decision": decision, "decision_reason": reason}

        return self._transition(caller, name, "alert_reviewed", change,
                                lambda v: {"decision": decision, "reason": reason})

    def close_alert(self, caller: Caller, name: str, outcome: str) -> AlertView:
        if not outcome:
            raise InvalidArgument("outcome is required")
        _check_code(load_codes().closure_outcome, outcome, "outcome")

        def change(v: AlertView) -> dict[str, Any]:
            if v.state != REVIEWED:
                raise FailedPrecondition(
                    f"alerts/{v.name_id} is {v.state}; the assigned regisseur must record a "
                    "review decision before it is closed")
            return {"state": CLOSED, "outcome": outcome}

        return self._transition(caller, name, "alert_closed", change,
                                lambda v: {"outcome": outcome})

    # ----------------------------------------------------------------- PolicyService

    def _log_policy_event(
        self, conn: sa.Connection, actor: audit.Actor, name: str, policy: Policy | None,
        attrs: dict[str, str], now: datetime,
    ) -> None:
        activity = policy.processing_activity_id if policy is not None else "policy-administration"
        audit.write(conn, actor, [audit.AuditEvent(name, activity, "", audit.NONE, attrs)], now)

    def _require_controller(self, caller: Caller, action: str) -> None:
        refusal = controller_refusal(caller.organisation, caller.role,
                                     self.settings.controller, action)
        if refusal is not None:
            raise PermissionDenied(refusal)

    def publish_policy(self, caller: Caller, document: bytes) -> PolicyView:
        self._require_controller(caller, "publish policies")
        doc = _parse_policy_document(document)
        today = self.clock.today()
        report = lint_document(doc, today=today, catalogue=self.catalogue)
        if not report.ok or report.policy is None:
            raise InvalidArgument("the policy does not lint: " + "; ".join(
                f.render() for f in report.errors[:10]))
        policy = report.policy
        if self.settings.municipality and policy.scope.municipality != self.settings.municipality:
            raise FailedPrecondition(
                f"the policy serves {policy.scope.municipality}; this matcher serves "
                f"{self.settings.municipality}")
        digest = policy_digest(policy)
        actor = self._actor(caller)

        def work(conn: sa.Connection) -> PolicyView:
            now = self.clock.now()
            same = conn.execute(sa.select(policies).where(
                policies.c.policy_id == policy.id, policies.c.version == policy.version)).first()
            if same is not None:
                if same.digest == digest and same.state != REVOKED:
                    return self._policy_view(same, now.date())
                raise AlreadyExists(
                    f"{policy.ref} is already published with another digest or was revoked; "
                    "publish a new version")
            revoked = frozenset(str(d) for (d,) in conn.execute(
                sa.select(policies.c.digest).where(policies.c.state == REVOKED)))
            verdict = self.registry.verdict(policy, now.date(), revoked,
                                            now=to_utc_aware(now))
            if not verdict.in_force:
                raise FailedPrecondition(f"{policy.ref} is not in force: "
                                         + "; ".join(verdict.reasons))
            newest = conn.execute(sa.select(sa.func.max(policies.c.version)).where(
                policies.c.policy_id == policy.id)).scalar_one()
            if newest is not None and int(newest) > policy.version:
                raise FailedPrecondition(
                    f"version {policy.version} is older than the published version {newest}")
            conn.execute(policies.update().where(policies.c.policy_id == policy.id,
                                                 policies.c.state == ACTIVE)
                         .values(state=SUPERSEDED))
            conn.execute(sa.insert(policies), {
                "policy_id": policy.id, "version": policy.version, "digest": digest,
                "mode": policy.mode.value, "team_id": policy.recipient.team_id,
                "document_json": json.dumps(policy.document(), ensure_ascii=False,
                                            sort_keys=True),
                "state": ACTIVE, "valid_from": policy.valid_from,
                "valid_until": policy.valid_until, "published_at": now,
                "published_by": caller.organisation})
            self._log_policy_event(conn, actor, "policy_published", policy,
                                   {"policy": policy.ref, "digest": digest,
                                    "mode": policy.mode.value}, now)
            row = conn.execute(sa.select(policies).where(policies.c.digest == digest,
                                                         policies.c.state == ACTIVE)).one()
            return self._policy_view(row, now.date())

        view = store.run_transaction(self.engine, work)
        self.log.info("policy_published", policy=f"{view.policy_id}@{view.version}",
                      digest=view.digest)
        return view

    def _policy_view(self, row: Any, today: date) -> PolicyView:
        state = row.state
        if state in (ACTIVE, SUPERSEDED) and not (row.valid_from <= today <= row.valid_until):
            state = "out_of_validity"
        revocation = json.loads(row.revocation_json) if row.revocation_json else None
        return PolicyView(row.policy_id, int(row.version), row.digest, row.document_json, state,
                          row.revoke_reason, row.published_at, row.revoked_at, revocation)

    def revoke_policy(
        self, caller: Caller, name: str, statement: Revocation | None
    ) -> PolicyView:
        """Revoke the published document a controller officer's signed statement names."""
        self._require_controller(caller, "revoke policies")
        policy_id = _resource_id(name, "policies")
        if statement is None:
            raise InvalidArgument(
                "a signed revocation statement is required; make one with "
                "`samenloop policy revoke ID --reason CODE --key KEY --officer ID`")
        if statement.policy_id != policy_id:
            raise InvalidArgument(
                f"the statement revokes policies/{statement.policy_id[:64]}, not {name}")
        check = verify_revocation(statement, self.registry.trust,
                                  controller=self.settings.controller, now=self.clock.now())
        if not check.valid:
            raise PermissionDenied(f"revocation of {statement.ref} refused: {check.reason}")
        actor = self._actor(caller)

        def work(conn: sa.Connection) -> PolicyView:
            now = self.clock.now()
            row = conn.execute(sa.select(policies).where(
                policies.c.policy_id == policy_id,
                policies.c.version == statement.version)).first()
            if row is None:
                raise NotFound(f"{statement.ref} is not published here")
            if row.digest != statement.digest:
                raise FailedPrecondition(
                    f"the statement names digest {statement.digest[:16]}…, but the published "
                    f"{statement.ref} has digest {row.digest[:16]}…; sign a statement for the "
                    "published document (samenloop policy list --all shows it)")
            if row.state == REVOKED:
                return self._policy_view(row, now.date())  # the same revocation again
            conn.execute(policies.update().where(policies.c.id == row.id).values(
                state=REVOKED, revoked_at=now, revoke_reason=statement.reason,
                revocation_json=json.dumps(statement.to_document(), sort_keys=True)))
            open_ids = [int(i) for (i,) in conn.execute(sa.select(alerts_t.c.id).where(
                alerts_t.c.policy_id == policy_id, alerts_t.c.policy_digest == row.digest,
                alerts_t.c.state != CLOSED))]
            for part in store.chunks(open_ids):
                alerts.cancel_pending_requests(conn, alert_ids=part)
            policy = self.registry.parsed(row.digest, row.document_json)
            self._log_policy_event(conn, actor, "policy_revoked", policy,
                                   {"policy": policy.ref, "digest": row.digest,
                                    "reason": statement.reason,
                                    "officer": statement.officer_id,
                                    "key_id": statement.key_id,
                                    "revoked_at": statement.revoked_at}, now)
            revoked = conn.execute(sa.select(policies).where(policies.c.id == row.id)).one()
            return self._policy_view(revoked, now.date())

        view = store.run_transaction(self.engine, work)
        self.log.info("policy_revoked", policy=f"{view.policy_id}@{view.version}")
        return view

    def get_policy(self, caller: Caller, name: str) -> PolicyView:
        policy_id = _resource_id(name, "policies")
        actor = self._actor(caller)

        def work(conn: sa.Connection) -> PolicyView:
            now = self.clock.now()
            row = self._latest_version(conn, policy_id)
            if row is None:
                raise NotFound(f"policies/{policy_id} not found")
            self._log_policy_event(conn, actor, "policy_read", None,
                                   {"policy": f"{policy_id}@{row.version}"}, now)
            return self._policy_view(row, now.date())

        return store.run_transaction(self.engine, work)

    def list_policies(
        self, caller: Caller, page_size: int, page_token: str, include_inactive: bool
    ) -> tuple[list[PolicyView], str]:
        size = max(1, min(page_size or 50, 500))
        after = _page_token(page_token)
        actor = self._actor(caller)

        def work(conn: sa.Connection) -> tuple[list[PolicyView], str]:
            now = self.clock.now()
            query = sa.select(policies).order_by(policies.c.id)
            if not include_inactive:
                query = query.where(policies.c.state == ACTIVE)
            if after is not None:
                query = query.where(policies.c.id > after)
            rows = conn.execute(query.limit(size + 1)).all()
            views = [self._policy_view(r, now.date()) for r in rows[:size]]
            if not include_inactive:
                views = [v for v in views if v.state == ACTIVE]
            self._log_policy_event(conn, actor, "policies_listed", None,
                                   {"count": str(len(views))}, now)
            return views, (str(rows[size - 1].id) if len(rows) > size else "")

        return store.run_transaction(self.engine, work)

    def simulate_policy(
        self, caller: Caller, document: bytes, evaluate_on: str
    ) -> SimulationReport:
        self._require_controller(caller, "simulate policies")
        doc = _parse_policy_document(document)
        try:
            policy = parse_policy(doc)
        except PolicyInvalid as exc:
            raise InvalidArgument("the policy is not valid: " + "; ".join(
                f.render() for f in exc.findings[:10])) from None
        except (PolicyError, TypeError) as exc:
            raise InvalidArgument(f"the document is not a policy: {exc}") from None
        try:
            on = date.fromisoformat(evaluate_on) if evaluate_on else self.clock.today()
        except ValueError:
            raise InvalidArgument("evaluate_on must be an ISO date") from None
        active = ActivePolicy(0, policy, policy_digest(policy))
        actor = self._actor(caller)
        # Read-only evaluation in its own connection; the only write is the audit entry.
        with self.engine.connect() as conn:
            report = summarise_simulation(
                policy, matching.simulate_outcomes(conn, active, self.catalogue, on), on)
            conn.rollback()

        def log(conn: sa.Connection) -> None:
            self._log_policy_event(conn, actor, "policy_simulated", policy,
                                   {"policy": policy.ref, "evaluate_on": on.isoformat()},
                                   self.clock.now())

        store.run_transaction(self.engine, log)
        return report

    def fairness(self, caller: Caller, name: str) -> FairnessReport:
        self._require_controller(caller, "read fairness reports")
        policy_id = _resource_id(name, "policies")
        actor = self._actor(caller)

        def work(conn: sa.Connection) -> FairnessReport:
            now = self.clock.now()
            row = self._latest_version(conn, policy_id)
            if row is None:
                raise NotFound(f"policies/{policy_id} not found")
            policy = self.registry.parsed(row.digest, row.document_json)
            signal_counts: dict[str, int] = {}
            for own, home, n in conn.execute(
                sa.select(signals.c.area_code, households.c.area_code, sa.func.count())
                .select_from(signals.outerjoin(households,
                                               households.c.id == signals.c.household_id))
                .where(signals.c.state == LIVE, signals.c.purpose.in_(sorted(policy.purposes)))
                .group_by(signals.c.area_code, households.c.area_code)
            ):
                area = str(own or home or "")
                signal_counts[area] = signal_counts.get(area, 0) + int(n)
            alert_counts: dict[str, int] = {}
            for area_code, n in conn.execute(
                sa.select(alerts_t.c.area_code, sa.func.count())
                .where(alerts_t.c.policy_id == policy_id)
                .group_by(alerts_t.c.area_code)
            ):
                area = str(area_code or "")
                alert_counts[area] = alert_counts.get(area, 0) + int(n)
            self._log_policy_event(conn, actor, "fairness_report", policy,
                                   {"policy": policy.ref}, now)
            return fairness_report(policy_id, signal_counts, alert_counts)

        return store.run_transaction(self.engine, work)

    # ----------------------------------------------------------------- AuditService

    def list_audit_entries(
        self, caller: Caller, page_size: int, page_token: str, name: str, activity: str,
        subject: str | None = None,
    ) -> tuple[list[AuditEntryView], str]:
        size = max(1, min(page_size or 100, 1000))
        after = _page_token(page_token)
        actor = self._actor(caller)
        scope = audit_scope(caller.organisation, caller.role, self.settings.controller)

        def work(conn: sa.Connection) -> tuple[list[AuditEntryView], str]:
            now = self.clock.now()
            query = sa.select(audit_events).order_by(audit_events.c.id)
            if scope is not None:
                query = query.where(scope)
            if after is not None:
                query = query.where(audit_events.c.id > after)
            if name:
                query = query.where(audit_events.c.name == name)
            if activity:
                query = query.where(audit_events.c.processing_activity_id == activity)
            if subject is not None:
                query = query.where(audit_events.c.data_subject_id == subject)
            rows = conn.execute(query.limit(size + 1)).all()
            views = [AuditEntryView(int(r.id), dict(r._mapping)) for r in rows[:size]]
            if subject is not None:
                event = audit.AuditEvent("subject_looked_up", "subject-access", subject,
                                         "pseudonym", {"entries": str(len(views))})
            else:
                event = audit.AuditEvent("audit_entries_listed", "audit-log", "", audit.NONE,
                                         {"entries": str(len(views)), "filter_name": name,
                                          "filter_activity": activity})
            audit.write(conn, actor, [event], now)
            return views, (str(views[-1].index) if len(rows) > size else "")

        return store.run_transaction(self.engine, work)

    def lookup_subject(
        self, caller: Caller, subject: PseudonymIn | None, subject_type: str, page_size: int,
        page_token: str,
    ) -> tuple[list[AuditEntryView], str]:
        if subject is None:
            raise InvalidArgument("subject is required")
        if subject_type not in ("person", "household"):
            raise InvalidArgument("subject_type must be `person` or `household`")
        bad = check_pseudonym(subject, "subject", self.settings.accepted_key_ids)
        if bad:
            raise InvalidArgument(bad.reason)
        key = self.pseudonym(subject).hex()
        return self.list_audit_entries(caller, page_size, page_token, "", "", subject=key)


def _resource_id(name: str, collection: str) -> str:
    prefix = f"{collection}/"
    if not name.startswith(prefix) or not name[len(prefix):] or "/" in name[len(prefix):]:
        raise InvalidArgument(f"expected a resource name `{collection}/{{id}}`, got {name[:80]!r}")
    return name[len(prefix):]


def _check_code(codes: CodeList, value: str, field: str) -> str:
    """`value` if it is in `codes`; INVALID_ARGUMENT naming the field and the valid codes."""
    try:
        return codes.check(value, field)
    except UnknownCode as exc:
        raise InvalidArgument(str(exc)) from None


def _page_token(token: str) -> int | None:
    if not token:
        return None
    try:
        return int(token)
    except ValueError:
        raise InvalidArgument("page_token is not valid") from None



def _parse_policy_document(document: bytes) -> dict[str, Any]:
    """Parse a policy sent over the wire with the same YAML reader the officers signed with
    (`policies.source`: dates kept as written; duplicate keys, merge keys and tags refused),
    so the matcher verifies exactly the document that was signed."""
    try:
        return parse_yaml(document.decode("utf-8")).document
    except UnicodeDecodeError:
        raise InvalidArgument("the document is not UTF-8 text") from None
    except PolicyError as exc:
        raise InvalidArgument(f"the document is not policy YAML or JSON: {exc}") from None
