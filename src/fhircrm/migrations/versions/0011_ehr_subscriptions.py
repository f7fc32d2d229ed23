"""EHR connector and subscriptions: sync cursors, listener state, publisher counters and deliveries

Revision ID: 0011_ehr_subscriptions
Revises: 0010_channels
Create Date: 2026-11-27 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_ehr_subscriptions"
down_revision = "0010_channels"
branch_labels = None
depends_on = None

PrimaryKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ehr_sync_state",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("cursor", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_ehr_sync_state")),
    )
    op.create_table(
        "ehr_subscription_state",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("ehr_subscription", sa.String(length=255), nullable=True),
        sa.Column("last_event", sa.BigInteger(), nullable=False),
        sa.Column("last_status", sa.String(length=32), nullable=True),
        sa.Column("last_received_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_ehr_subscription_state")),
    )
    op.create_table(
        "ehr_notification_event",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("processed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", "number", name=op.f("pk_ehr_notification_event")),
    )
    op.create_table(
        "subscription_counter",
        sa.Column("subscription_id", sa.String(length=64), nullable=False),
        sa.Column("events_since_start", sa.BigInteger(), nullable=False),
        sa.Column("delivered", sa.BigInteger(), nullable=False),
        sa.Column("failed", sa.BigInteger(), nullable=False),
        sa.Column("last_error", sa.String(length=2000), nullable=True),
        sa.Column("last_delivered_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("subscription_id", name=op.f("pk_subscription_counter")),
    )
    op.create_table(
        "subscription_delivery",
        sa.Column("id", PrimaryKey, autoincrement=True, nullable=False),
        sa.Column("subscription_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("event_number", sa.BigInteger(), nullable=True),
        sa.Column("focus", sa.String(length=140), nullable=True),
        sa.Column("focus_version", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=2000), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscription_delivery")),
    )
    op.create_index(
        op.f("ix_subscription_delivery_subscription_id_event_number"),
        "subscription_delivery",
        ["subscription_id", "event_number"],
    )
    op.create_index(
        op.f("ix_subscription_delivery_subscription_id_status"), "subscription_delivery", ["subscription_id", "status"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_subscription_delivery_subscription_id_status"), table_name="subscription_delivery")
    op.drop_index(op.f("ix_subscription_delivery_subscription_id_event_number"), table_name="subscription_delivery")
    op.drop_table("subscription_delivery")
    op.drop_table("subscription_counter")
    op.drop_table("ehr_notification_event")
    op.drop_table("ehr_subscription_state")
    op.drop_table("ehr_sync_state")
