"""The app's server-side sessions: pending launches (state, PKCE verifier) and the tokens they earned."""

from __future__ import annotations

import sqlalchemy as sa

from fhircrm.fhir.schema import metadata

#: ``id`` is the SHA-256 of the cookie value, so a database leak does not hand out live sessions.
smartapp_session = sa.Table(
    "smartapp_session",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("created_at", sa.DateTime, nullable=False),  # naive UTC
    sa.Column("expires_at", sa.DateTime, nullable=False),  # naive UTC
    sa.Column("data", sa.JSON, nullable=False),
    sa.Index(None, "expires_at"),
)
