"""bulk data: export and import jobs, their ndjson files, processed FHIR messages

Revision ID: 0015_bulk_data
Revises: 0014_subscription_owners
Create Date: 2026-12-02 09:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015_bulk_data"
down_revision = "0014_subscription_owners"
branch_labels = None
depends_on = None

CONTENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
PRIMARY_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "bulk_job",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("owner", CONTENT, nullable=False),
        sa.Column("request", sa.String(length=2000), nullable=False),
        sa.Column("params", CONTENT, nullable=False),
        sa.Column("cursor", CONTENT, nullable=False),
        sa.Column("done_count", sa.Integer(), nullable=False),
        sa.Column("transaction_time", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("error", sa.String(length=2000), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulk_job")),
    )
    op.create_index(op.f("ix_bulk_job_expires_at"), "bulk_job", ["expires_at"])
    op.create_table(
        "bulk_file",
        sa.Column("id", PRIMARY_KEY, autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("res_type", sa.String(length=64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulk_file")),
    )
    op.create_index(op.f("ix_bulk_file_job_id_id"), "bulk_file", ["job_id", "id"])
    op.create_table(
        "message_response",
        sa.Column("header_id", sa.String(length=64), nullable=False),
        sa.Column("response", CONTENT, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("header_id", name=op.f("pk_message_response")),
    )


def downgrade() -> None:
    op.drop_table("message_response")
    op.drop_index(op.f("ix_bulk_file_job_id_id"), table_name="bulk_file")
    op.drop_table("bulk_file")
    op.drop_index(op.f("ix_bulk_job_expires_at"), table_name="bulk_job")
    op.drop_table("bulk_job")
