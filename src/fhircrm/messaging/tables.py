"""The responses of FHIR messages already processed: a message sent again gets its first response."""

from __future__ import annotations

import sqlalchemy as sa

from fhircrm.fhir.schema import Content, metadata

message_response = sa.Table(
    "message_response",
    metadata,
    sa.Column("header_id", sa.String(64), primary_key=True),  # the request MessageHeader's id
    sa.Column("response", Content, nullable=False),  # the response Bundle sent the first time
    sa.Column("created_at", sa.DateTime, nullable=False),
)
