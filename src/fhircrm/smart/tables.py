"""Tables of the SMART parts, on the FHIR store's ``metadata`` so Alembic's drift check sees them."""

from __future__ import annotations

import sqlalchemy as sa

from fhircrm.fhir.schema import metadata

#: One-time identifiers already used (client assertion ``jti``, authorization codes), shared by every process so
#: a replay is refused whichever replica receives it. Rows are useless after ``expires_at`` and are purged.
smart_jti = sa.Table(
    "smart_jti",
    metadata,
    sa.Column("issuer", sa.String(255), primary_key=True),
    sa.Column("jti", sa.String(255), primary_key=True),
    sa.Column("expires_at", sa.DateTime, nullable=False),  # naive UTC
    sa.Index(None, "expires_at"),
)
