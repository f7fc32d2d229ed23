"""Tables of the EHR connector: where each resumable ``_lastUpdated`` sync stopped."""

from __future__ import annotations

import sqlalchemy as sa

from fhircrm.fhir.schema import metadata

#: One row per sync (``poll:Appointment``, ``writeback:Task`` ...): the instant up to which it is done.
ehr_sync_state = sa.Table(
    "ehr_sync_state",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("cursor", sa.String(64), nullable=True),  # a FHIR instant
    sa.Column("updated_at", sa.DateTime, nullable=False),  # naive UTC
)
