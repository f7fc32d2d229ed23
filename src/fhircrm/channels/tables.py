"""Two small operational tables of the channels (message content stays in FHIR Communications).

``channel_delivery``: one row per outbound Communication being delivered; the ``sending`` marker with its attempt
id is committed BEFORE the provider is called, so a sender that dies mid-call leaves evidence and the next one
reconciles with the provider instead of sending again. ``channel_inbound``: provider message ids already taken
in, so a replayed webhook is ignored.
"""

from __future__ import annotations

import sqlalchemy as sa

from fhircrm.fhir.schema import PrimaryKey, metadata

channel_delivery = sa.Table(
    "channel_delivery",
    metadata,
    sa.Column("communication_id", sa.String(64), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),  # sending | failed | sent
    sa.Column("attempt_id", sa.String(64), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("provider", sa.String(32), nullable=False),
    sa.Column("provider_id", sa.String(255), nullable=True),
    sa.Column("started_at", sa.DateTime, nullable=False),  # naive UTC, of the current attempt
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

channel_inbound = sa.Table(
    "channel_inbound",
    metadata,
    sa.Column("id", PrimaryKey, primary_key=True, autoincrement=True),
    sa.Column("provider", sa.String(32), nullable=False),
    sa.Column("provider_id", sa.String(255), nullable=False),
    sa.Column("received_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("provider", "provider_id", name="uq_channel_inbound_provider_id"),
)
