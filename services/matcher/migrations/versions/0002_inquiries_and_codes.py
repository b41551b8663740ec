"""Inquiries answer one bit; free text gives way to codes (issue 10, ADR 0012).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

- `inquiries`: the life domains, the case state and the alert name are no longer kept (the
  answer no longer carries them); `answer` (indicated | not_indicated) and `refusal`
  (not_involved) are added; an index on (partner, created_at) serves the per-partner rate limit.
  Existing rows keep their answer (`not_met` -> not_indicated, anything else -> indicated); their
  free-text role and reason are overwritten with `legacy` (this table is mutable, unlike the
  audit log).
- `inquiry_partners`: one lockable row per inquiring partner, so counting and storing an inquiry
  is serialised per partner across matcher replicas.
- `alerts`: the free-text `motivation` is dropped; `decision_reason` holds a code.

SQLite (3.35+) drops unindexed columns natively, so no table is rebuilt; the partial unique
index on alerts and the audit triggers are untouched.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NOT NULL needs a default to be added on SQLite; the matcher always sets the value.
    op.add_column("inquiries", sa.Column("answer", sa.String(length=32), nullable=False,
                                         server_default="not_indicated"))
    op.add_column("inquiries", sa.Column("refusal", sa.String(length=32), nullable=True))
    op.execute(
        "UPDATE inquiries SET answer = CASE WHEN state = 'not_met' THEN 'not_indicated' "
        "ELSE 'indicated' END, requester_role = 'legacy', reason = 'legacy'"
    )
    for column in ("state", "domains", "alert_name_id"):
        op.drop_column("inquiries", column)
    op.create_index(
        "ix_inquiries_partner_created_at", "inquiries", ["partner", "created_at"], unique=False
    )
    op.create_table(
        "inquiry_partners",
        sa.Column("partner", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("partner", name=op.f("pk_inquiry_partners")),
    )
    op.drop_column("alerts", "motivation")
    op.add_column("alerts", sa.Column("decision_reason", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("alerts", "decision_reason")
    op.add_column("alerts", sa.Column("motivation", sa.String(length=500), nullable=True))
    op.drop_table("inquiry_partners")
    op.drop_index("ix_inquiries_partner_created_at", table_name="inquiries")
    op.add_column("inquiries", sa.Column("alert_name_id", sa.String(length=32), nullable=True))
    op.add_column("inquiries", sa.Column("domains", sa.JSON(), nullable=True))
    op.add_column("inquiries", sa.Column("state", sa.String(length=32), nullable=True))
    op.execute(
        "UPDATE inquiries SET domains = '[]', state = CASE WHEN answer = 'not_indicated' "
        "THEN 'not_met' ELSE 'already_open' END"
    )
    op.drop_column("inquiries", "refusal")
    op.drop_column("inquiries", "answer")
