"""The matcher's tables (SQLAlchemy Core). The Alembic migrations in `migrations/` create them.

Pseudonyms are stored only as the matcher's keyed value (HMAC-SHA256 over the VOPRF output,
32 bytes), once, in `households` and `persons`; every other table refers to those rows by id.
No column holds a BSN, name, address or date of birth. Instants are naive UTC.

Hot-path indexes: `signals(household_id, state)` and `signals(person_id, state)`, each partial
(`WHERE … IS NOT NULL`), load one household's live signals; `household_links(person_id,
valid_from)` and `household_links(household_id)` resolve person signals. Nothing in the
submission path scans a table, also after ANALYZE (tests/matcher/test_query_plans.py).
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# 64-bit ids on PostgreSQL; SQLite needs INTEGER PRIMARY KEY for its rowid alias.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

PSEUDONYM_BYTES = 32

# Signal states.
LIVE = "live"
WITHDRAWN = "withdrawn"
EXPIRED = "expired"
MERGED = "merged"  # a non-escalated repeat: refreshed the date of `merged_into`, counts no more

# Alert states.
OPEN = "open"
ASSIGNED = "assigned"
REVIEWED = "reviewed"
CLOSED = "closed"

# The predicate of the partial unique index on open alerts, and the ON CONFLICT target that
# names it (alerts.open_alerts): a literal, so PostgreSQL can infer the index from it.
OPEN_ALERT_PREDICATE = "state != 'closed'"

# Reveal request states.
PENDING = "pending"
ANSWERED = "answered"
CANCELLED = "cancelled"

policies = sa.Table(
    "policies",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("policy_id", sa.String(64), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("team_id", sa.String(64), nullable=False),
    sa.Column("document_json", sa.Text, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # active | revoked | superseded
    sa.Column("valid_from", sa.Date, nullable=False),
    sa.Column("valid_until", sa.Date, nullable=False),
    sa.Column("published_at", sa.DateTime, nullable=False),
    sa.Column("published_by", sa.String(128), nullable=False),
    sa.Column("revoked_at", sa.DateTime),
    sa.Column("revoke_reason", sa.Text),  # the reason code of the revocation
    sa.Column("revocation_json", sa.Text),  # the signed statement (policies.revocation), JSON
    sa.UniqueConstraint("policy_id", "version"),
    sa.Index(None, "state"),
)

households = sa.Table(
    "households",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("pseudonym", sa.LargeBinary(PSEUDONYM_BYTES), nullable=False, unique=True),
    sa.Column("area_code", sa.String(4)),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sqlite_autoincrement=True,
)

persons = sa.Table(
    "persons",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("pseudonym", sa.LargeBinary(PSEUDONYM_BYTES), nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sqlite_autoincrement=True,
)

signals = sa.Table(
    "signals",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("partner", sa.String(64), nullable=False),
    sa.Column("signal_id", sa.String(128), nullable=False),
    sa.Column("partner_kind", sa.String(32), nullable=False),
    sa.Column("signal_type", sa.String(64), nullable=False),
    sa.Column("purpose", sa.String(64), nullable=False),
    sa.Column("observed_on", sa.Date, nullable=False),
    sa.Column("household_id", BigId, sa.ForeignKey("households.id")),
    sa.Column("person_id", BigId, sa.ForeignKey("persons.id")),
    sa.Column("area_code", sa.String(4)),
    sa.Column("escalated", sa.Boolean, nullable=False, default=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("merged_into", BigId),
    sa.Column("expires_on", sa.Date, nullable=False),  # counts for matching up to this day
    sa.Column("retain_until", sa.Date, nullable=False),  # deleted by the purge after this day
    sa.Column("catalogue_version", sa.String(32), nullable=False),
    sa.Column("batch_id", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("withdrawn_at", sa.DateTime),
    sa.Column("withdraw_reason", sa.String(64)),
    sa.UniqueConstraint("partner", "signal_id"),
    # Partial: only rows with the id, so statistics describe those rows and no planner can
    # judge the index useless because most person_ids are NULL (migration 0007, ADR 0025).
    sa.Index("ix_signals_household_live", "household_id", "state",
             sqlite_where=sa.text("household_id IS NOT NULL"),
             postgresql_where=sa.text("household_id IS NOT NULL")),
    sa.Index("ix_signals_person_live", "person_id", "state",
             sqlite_where=sa.text("person_id IS NOT NULL"),
             postgresql_where=sa.text("person_id IS NOT NULL")),
    sa.Index(None, "expires_on"),  # the purge finds expired signals; not the hot path
    sa.Index(None, "retain_until"),
    sqlite_autoincrement=True,
)

household_links = sa.Table(
    "household_links",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("partner", sa.String(64), nullable=False),
    sa.Column("link_id", sa.String(128), nullable=False),
    sa.Column("person_id", BigId, sa.ForeignKey("persons.id"), nullable=False),
    sa.Column("household_id", BigId, sa.ForeignKey("households.id"), nullable=False),
    sa.Column("valid_from", sa.Date, nullable=False),
    sa.Column("area_code", sa.String(4)),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("partner", "link_id"),
    sa.Index(None, "person_id", "valid_from"),
    sa.Index(None, "household_id"),
    sqlite_autoincrement=True,
)

# Inquiries answered (or refused as uninvolved). No life domains, no case state: `answer` is the
# one bit the partner got. `requester_role` and `reason` are codes (domain/codes.yaml). The rows
# of the last day are also the per-partner rate-limit counter (index on partner, created_at).
inquiries = sa.Table(
    "inquiries",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("name_id", sa.String(32), nullable=False, unique=True),
    sa.Column("partner", sa.String(64), nullable=False),
    sa.Column("request_id", sa.String(128), nullable=False),
    sa.Column("policy_id", sa.String(64), nullable=False),
    sa.Column("household_pseudonym", sa.LargeBinary(PSEUDONYM_BYTES), nullable=False),
    sa.Column("requester_role", sa.String(128), nullable=False),
    sa.Column("reason", sa.String(500), nullable=False),
    sa.Column("answer", sa.String(32), nullable=False),  # indicated | not_indicated
    sa.Column("refusal", sa.String(32)),  # not_involved, or NULL when evaluated
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("partner", "request_id"),
    sa.Index(None, "created_at"),
    sa.Index(None, "partner", "created_at"),
    sqlite_autoincrement=True,
)

# One row per partner that ever inquired: locked (SELECT ... FOR UPDATE) while a partner's
# inquiry is counted and stored, so the rate limit and request_id binding hold across replicas.
inquiry_partners = sa.Table(
    "inquiry_partners",
    metadata,
    sa.Column("partner", sa.String(64), primary_key=True),
)

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("name_id", sa.String(32), nullable=False, unique=True),
    sa.Column("policy_id", sa.String(64), nullable=False),
    sa.Column("policy_version", sa.Integer, nullable=False),
    sa.Column("policy_digest", sa.String(64), nullable=False),
    sa.Column("household_id", BigId, sa.ForeignKey("households.id"), nullable=False),
    sa.Column("area_code", sa.String(4)),
    sa.Column("team", sa.String(64), nullable=False),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("domains", sa.JSON, nullable=False),
    sa.Column("regisseur", sa.String(128)),
    sa.Column("decision", sa.String(32)),
    sa.Column("decision_reason", sa.String(64)),  # code from review_decision_reason
    sa.Column("outcome", sa.String(32)),
    sa.Column("traceparent", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("closed_at", sa.DateTime),
    sa.Column("closed_on", sa.Date),
    sa.Column("retain_until", sa.Date),  # set on closing: closed_on + policy retention
    # Exactly one alert per (policy, household) that is not closed: the last line of defence
    # behind the per-household row lock (see docs/matcher.md "Exactly once").
    sa.Index(
        "uq_alerts_one_open_per_household",
        "policy_id",
        "household_id",
        unique=True,
        sqlite_where=sa.text(OPEN_ALERT_PREDICATE),
        postgresql_where=sa.text(OPEN_ALERT_PREDICATE),
    ),
    sa.Index(None, "policy_id", "household_id", "closed_at"),
    sa.Index(None, "team", "id"),
    sa.Index(None, "state", "retain_until"),
    sqlite_autoincrement=True,
)

alert_signals = sa.Table(
    "alert_signals",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("alert_id", BigId, sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    # The contributing signal's row id (not a foreign key: the snapshot outlives the signal).
    sa.Column("signal_ref", BigId, nullable=False),
    sa.Column("signal_type", sa.String(64), nullable=False),
    sa.Column("partner_kind", sa.String(32), nullable=False),
    sa.Column("observed_on", sa.Date, nullable=False),
    sa.Index(None, "alert_id"),
    sa.Index(None, "signal_ref"),
)

reveal_requests = sa.Table(
    "reveal_requests",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("name_id", sa.String(32), nullable=False, unique=True),
    sa.Column("alert_id", BigId, sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    sa.Column("partner", sa.String(64), nullable=False),
    sa.Column("partner_kind", sa.String(32), nullable=False),
    sa.Column("signal_ref", BigId, nullable=False),
    sa.Column("signal_id", sa.String(128), nullable=False),
    sa.Column("fields", sa.JSON, nullable=False),
    sa.Column("payload", sa.LargeBinary, nullable=False),  # RFC 8785 canonical JSON, as signed
    sa.Column("signature", sa.LargeBinary, nullable=False),
    sa.Column("key_id", sa.String(64), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("expire_at", sa.DateTime, nullable=False),
    sa.Column("delivered_count", sa.Integer, nullable=False, default=0),
    sa.Column("last_delivered_at", sa.DateTime),
    sa.Index(None, "partner", "state", "id"),
    sa.Index(None, "alert_id"),
    sa.Index(None, "signal_ref"),
    sqlite_autoincrement=True,
)

disclosures = sa.Table(
    "disclosures",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("name_id", sa.String(32), nullable=False, unique=True),
    sa.Column("alert_id", BigId, sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    sa.Column(
        "reveal_request_id",
        BigId,
        sa.ForeignKey("reveal_requests.id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    ),
    sa.Column("partner", sa.String(64), nullable=False),
    sa.Column("partner_kind", sa.String(32), nullable=False),
    sa.Column("fields", sa.JSON, nullable=False),
    sa.Column("ciphertext", sa.LargeBinary),  # opaque sealed box; the matcher cannot open it
    sa.Column("recipient_public_key", sa.String(64)),
    sa.Column("refusal_reason", sa.String(64)),
    sa.Column("refusal_detail", sa.String(500)),
    # the gateway's signature over the disclosure statement (services/common/disclosure.py)
    sa.Column("signature", sa.LargeBinary),
    sa.Column("signature_key_id", sa.String(64)),
    sa.Column("audit_index", BigId, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Index(None, "alert_id"),
    sqlite_autoincrement=True,
)

# Logboek Dataverwerkingen entries, one per data subject, written in the same transaction as
# the action they record. Append-only: triggers refuse UPDATE and DELETE (see the migration).
audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("trace_id", sa.String(32), nullable=False),
    sa.Column("span_id", sa.String(16), nullable=False),
    sa.Column("parent_span_id", sa.String(16), nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("start_time", sa.DateTime, nullable=False),
    sa.Column("end_time", sa.DateTime, nullable=False),
    sa.Column("status_code", sa.String(8), nullable=False),
    sa.Column("actor_organisation", sa.String(128), nullable=False),
    sa.Column("actor_role", sa.String(64), nullable=False),
    # an absolute URI into the processing register (ADR 0023; a bare id in format 1 rows)
    sa.Column("processing_activity_id", sa.String(512), nullable=False),
    sa.Column("data_subject_id", sa.String(64), nullable=False),
    sa.Column("data_subject_id_type", sa.String(32), nullable=False),
    sa.Column("foreign_operation", sa.String(128), nullable=False),
    sa.Column("attributes", sa.JSON, nullable=False),
    sa.Column("leaf", sa.LargeBinary, nullable=False),  # RFC 8785 canonical JSON of the entry
    # Added by migration 0006 (the Logboek Dataverwerkingen record, ADR 0023).
    sa.Column("entry_format", sa.SmallInteger, nullable=False, server_default="1"),
    sa.Column("foreign_span_id", sa.String(16), nullable=False, server_default=""),
    sa.Column("foreign_processor", sa.String(512), nullable=False, server_default=""),
    sa.Column("purpose", sa.String(256), nullable=False, server_default=""),
    sa.Column("policy_id", sa.String(128), nullable=False, server_default=""),
    sa.Column("policy_version", sa.Integer, nullable=True),
    sa.Column("policy_digest", sa.String(64), nullable=False, server_default=""),
    sa.Index(None, "data_subject_id"),
    sa.Index(None, "name"),
    sa.Index(None, "processing_activity_id"),
    sa.Index(None, "policy_id"),
    sqlite_autoincrement=True,
)

# The Merkle log over audit_events (ADR 0022). A trigger queues every inserted entry in
# `audit_queue`; the sequencer (services/matcher/sequencer.py) takes committed ones in order,
# gives them gap-free leaf indexes in `audit_leaves` and stores every complete subtree's hash in
# `audit_tree_nodes` (level >= 1; level 0 is `audit_leaves.leaf_hash`), so a proof reads
# O(log n) rows. `audit_tree_state` is one row (id 1): the tree head, locked while sequencing.
# Leaves, nodes, checkpoints and cosignatures are append-only (triggers, see migration 0008).
audit_queue = sa.Table(
    "audit_queue",
    metadata,
    sa.Column("event_id", BigId, primary_key=True, autoincrement=False),
)

audit_leaves = sa.Table(
    "audit_leaves",
    metadata,
    sa.Column("leaf_index", BigId, primary_key=True, autoincrement=False),
    sa.Column("event_id", BigId, nullable=False, unique=True),
    sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
    sa.Column("sequenced_at", sa.DateTime, nullable=False),
)

audit_tree_nodes = sa.Table(
    "audit_tree_nodes",
    metadata,
    sa.Column("level", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("node_index", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("hash", sa.LargeBinary(32), nullable=False),
)

audit_tree_state = sa.Table(
    "audit_tree_state",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("tree_size", sa.BigInteger, nullable=False),
    sa.Column("root_hash", sa.LargeBinary(32), nullable=False),
    # leaves [0, purged_end) have been through the retention purge (content deleted or kept)
    sa.Column("purged_end", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

# Signed checkpoints (C2SP tlog-checkpoint in a signed note), one per tree size, and the
# witnesses' cosignatures (C2SP tlog-cosignature), one per checkpoint and witness.
audit_checkpoints = sa.Table(
    "audit_checkpoints",
    metadata,
    sa.Column("tree_size", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("root_hash", sa.LargeBinary(32), nullable=False),
    sa.Column("note", sa.Text, nullable=False),  # the matcher's signed note, no cosignatures
    sa.Column("created_at", sa.DateTime, nullable=False),
)

audit_cosignatures = sa.Table(
    "audit_cosignatures",
    metadata,
    sa.Column("tree_size", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("witness", sa.String(128), primary_key=True),
    sa.Column("cosigned_at", sa.BigInteger, nullable=False),  # the signed timestamp, POSIX s
    sa.Column("signature_line", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

ALL_TABLES = (
    policies,
    households,
    persons,
    signals,
    household_links,
    inquiries,
    inquiry_partners,
    alerts,
    alert_signals,
    reveal_requests,
    disclosures,
    audit_events,
    audit_queue,
    audit_leaves,
    audit_tree_nodes,
    audit_tree_state,
    audit_checkpoints,
    audit_cosignatures,
)
