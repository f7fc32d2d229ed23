"""The maintained counts behind the appointment measures (``upkeep``): each Appointment's cells (``facts``), and
their sum per UTC day of the start, so that a period's figures are a sum of a few hundred rows instead of a
recount of every visit in it."""

from __future__ import annotations

import sqlalchemy as sa

from fhircrm.fhir.schema import Content, metadata

#: what each Appointment counts in now, [[class, dimension, key], ...], and its start (naive UTC): what a change
#: takes back, and what a period's partial days add
indicator_fact = sa.Table(
    "indicator_fact",
    metadata,
    sa.Column("fhir_id", sa.String(64), primary_key=True),
    sa.Column("start", sa.DateTime, nullable=False),
    sa.Column("cells", Content, nullable=False),
    sa.Index(None, "start"),
)

#: Appointments per (day, class, dimension, key): the sum of ``indicator_fact``
indicator_daily = sa.Table(
    "indicator_daily",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("class", sa.String(64), primary_key=True),
    sa.Column("dimension", sa.String(16), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("n", sa.Integer, nullable=False),
)
