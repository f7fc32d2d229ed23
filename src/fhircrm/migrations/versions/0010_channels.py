"""channels: delivery markers and inbound dedupe

Revision ID: 0010_channels
Revises: 0003_smart_jti
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_channels"
down_revision = "0003_smart_jti"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_delivery",
        sa.Column("communication_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempt_id", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("provider_id", sa.String(length=255), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("communication_id", name=op.f("pk_channel_delivery")),
    )
    op.create_table(
        "channel_inbound",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("provider_id", sa.String(length=255), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_inbound")),
        sa.UniqueConstraint("provider", "provider_id", name="uq_channel_inbound_provider_id"),
    )


def downgrade() -> None:
    op.drop_table("channel_inbound")
    op.drop_table("channel_delivery")
