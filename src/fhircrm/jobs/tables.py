"""The ``job`` table: one row per unit of background work."""

from __future__ import annotations

import sqlalchemy as sa

from fhircrm.fhir.schema import Content, PrimaryKey, metadata

job = sa.Table(
    "job",
    metadata,
    sa.Column("id", PrimaryKey, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("dedupe_key", sa.String(255), nullable=True, unique=True),  # at most one job per key, ever
    sa.Column("payload", Content, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending | done | dead
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("run_at", sa.DateTime, nullable=False),  # naive UTC: not before this time
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime, nullable=True),
    sa.Column("last_error", sa.String(2000), nullable=True),  # an error class and message, never PHI
    sa.Index("ix_job_due", "status", "run_at"),
    sa.Index(None, "kind", "status"),
)
