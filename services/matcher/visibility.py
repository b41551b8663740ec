"""Which audit entries a privacy officer may read (ListAuditEntries, LookupSubject).

The controller's privacy officers see every entry. An officer of any other organisation O sees
only the entries about O's own calls, signals and disclosures (ADR 0013):

- O is the actor, the event is one a partner's own call writes (`PARTNER_EVENTS`), and the
  entry names no other partner (`attributes.partner` is absent or O); or
- the matcher itself acted (`audit.SYSTEM_ORGANISATION`: expiry, purge, re-evaluation) on O's
  data (`attributes.partner` is O) and the event is in `PARTNER_EVENTS`.

Deny by default: an event name not listed is the controller's only. In particular an entry
where another organisation acted is never shown, because its actor alone can reveal a
special-category relation (a GGZ organisation's signal on the household), and `alert_created`
is never shown, because it carries the life domains of every partner's signals. The entries
are filtered in the query, so paging and counts never reveal what was skipped.
"""

from __future__ import annotations

import sqlalchemy as sa

from services.matcher.audit import SYSTEM_ORGANISATION
from services.matcher.authorization import is_controller_officer
from services.matcher.schema import audit_events

PARTNER_EVENTS = frozenset({
    # the organisation's signals and household links
    "signal_received", "signal_refreshed", "signal_withdrawn", "signal_expired",
    "signal_deleted", "household_link_received",
    # its inquiries, answered or refused (the entry says what its own gateway was told)
    "inquiry_received", "inquiry_refused",
    # the reveal requests addressed to it and its answers
    "reveal_request_created", "reveal_request_delivered", "disclosure_received",
    "disclosure_refused",
    # its officers' reads
    "policy_read", "policies_listed", "audit_entries_listed", "subject_looked_up",
    # its batches' counts, and its own calls that were refused or failed
    "batch_received", "call_refused", "call_failed",
    # the retention of its data
    "signal_subject_removed", "household_link_deleted", "inquiry_deleted",
    # inclusion proofs its gateway or officers fetched (ADR 0022)
    "inclusion_proof_served",
})


def audit_scope(organisation: str, role: str, controller: str) -> sa.ColumnElement[bool] | None:
    """A WHERE clause limiting `audit_events` to what this caller may read; None: everything."""
    if is_controller_officer(organisation, role, controller):
        return None
    partner = audit_events.c.attributes["partner"].as_string()
    own_call = sa.and_(audit_events.c.actor_organisation == organisation,
                       sa.or_(partner.is_(None), partner == organisation))
    matcher_on_own_data = sa.and_(audit_events.c.actor_organisation == SYSTEM_ORGANISATION,
                                  partner == organisation)
    return sa.and_(audit_events.c.name.in_(sorted(PARTNER_EVENTS)),
                   sa.or_(own_call, matcher_on_own_data))
