"""SMART: used one-time identifiers (jti replay protection)

Revision ID: 0003_smart_jti
Revises: 0003_jobs
Create Date: 2026-11-27 09:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_smart_jti"
down_revision = "0003_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "smart_jti",
        sa.Column("issuer", sa.String(length=255), nullable=False),
        sa.Column("jti", sa.String(length=255), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("issuer", "jti", name=op.f("pk_smart_jti")),
    )
    op.create_index(op.f("ix_smart_jti_expires_at"), "smart_jti", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_smart_jti_expires_at"), table_name="smart_jti")
    op.drop_table("smart_jti")
