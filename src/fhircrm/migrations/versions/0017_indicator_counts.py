"""Indicator counts: each Appointment's cells and their sum per day, kept by the store's write-time listener

Revision ID: 0017_indicator_counts
Revises: 0016_ehr_subscription_watch
Create Date: 2026-12-02 12:40:00

Filled by ``fhircrm indicators rebuild`` (run it once after upgrading a database that holds Appointments).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0017_indicator_counts"
down_revision = "0016_ehr_subscription_watch"
branch_labels = None
depends_on = None

Content = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "indicator_fact",
        sa.Column("fhir_id", sa.String(length=64), nullable=False),
        sa.Column("start", sa.DateTime(), nullable=False),
        sa.Column("cells", Content, nullable=False),
        sa.PrimaryKeyConstraint("fhir_id", name=op.f("pk_indicator_fact")),
    )
    op.create_index(op.f("ix_indicator_fact_start"), "indicator_fact", ["start"])
    op.create_table(
        "indicator_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("class", sa.String(length=64), nullable=False),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "class", "dimension", "key", name=op.f("pk_indicator_daily")),
    )


def downgrade() -> None:
    op.drop_table("indicator_daily")
    op.drop_index(op.f("ix_indicator_fact_start"), table_name="indicator_fact")
    op.drop_table("indicator_fact")
