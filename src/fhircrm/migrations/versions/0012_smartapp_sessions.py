"""SMART app: server-side sessions (pending launches and tokens)

Revision ID: 0012_smartapp_sessions
Revises: 0011_ehr_subscriptions
Create Date: 2026-11-27 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_smartapp_sessions"
down_revision = "0011_ehr_subscriptions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "smartapp_session",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_smartapp_session")),
    )
    op.create_index(op.f("ix_smartapp_session_expires_at"), "smartapp_session", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_smartapp_session_expires_at"), table_name="smartapp_session")
    op.drop_table("smartapp_session")
