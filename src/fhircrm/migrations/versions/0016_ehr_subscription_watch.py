"""EHR subscription watch: what each of our EHR Subscriptions should do and whether it does; notification ids

Revision ID: 0016_ehr_subscription_watch
Revises: 0015_bulk_data
Create Date: 2026-12-02 09:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_ehr_subscription_watch"
down_revision = "0015_bulk_data"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ehr_notification_event") as batch:
        batch.add_column(sa.Column("status_id", sa.String(length=64), nullable=True))
    op.create_table(
        "ehr_subscription_watch",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("criteria", sa.String(length=500), nullable=True),
        sa.Column("ehr_subscription", sa.String(length=255), nullable=True),
        sa.Column("registered_at", sa.DateTime(), nullable=False),
        sa.Column("handshake_at", sa.DateTime(), nullable=True),
        sa.Column("heartbeat_seconds", sa.Integer(), nullable=True),
        sa.Column("last_heard_at", sa.DateTime(), nullable=True),
        sa.Column("flagged_at", sa.DateTime(), nullable=True),
        sa.Column("flag_reason", sa.String(length=500), nullable=True),
        sa.Column("task_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_ehr_subscription_watch")),
    )


def downgrade() -> None:
    op.drop_table("ehr_subscription_watch")
    with op.batch_alter_table("ehr_notification_event") as batch:
        batch.drop_column("status_id")
