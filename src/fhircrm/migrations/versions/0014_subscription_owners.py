"""subscription owners: the access a Subscription's notifications are delivered under

Subscriptions that exist before this revision get no owner row, and so no notification, until someone with
access updates them (their writer's access was never recorded; a patient app's Subscription must not keep
reading every patient). See fhircrm.subscriptions.owners.

Revision ID: 0014_subscription_owners
Revises: 0013_covering_indexes
Create Date: 2026-12-02 09:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_subscription_owners"
down_revision = "0013_covering_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscription_owner",
        sa.Column("subscription_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=True),
        sa.Column("client_id", sa.String(length=255), nullable=True),
        sa.Column("fhir_user", sa.String(length=255), nullable=True),
        sa.Column("patient", sa.String(length=64), nullable=True),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("subscription_id", name=op.f("pk_subscription_owner")),
    )


def downgrade() -> None:
    op.drop_table("subscription_owner")
