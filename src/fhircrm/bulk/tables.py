"""The Bulk Data tables: one row per export or import (``bulk_job``), one per ndjson file it wrote
(``bulk_file``)."""

from __future__ import annotations

import sqlalchemy as sa

from fhircrm.fhir.schema import Content, PrimaryKey, metadata

bulk_job = sa.Table(
    "bulk_job",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),  # a UUID: the status URL names it
    sa.Column("kind", sa.String(16), nullable=False),  # export | import
    sa.Column("status", sa.String(16), nullable=False),  # running | done | failed | cancelled
    #: the access of the client that kicked it off (fhircrm.subscriptions.owners.Owner as JSON): the job reads
    #: and writes as that client, and only that client may read its status and files
    sa.Column("owner", Content, nullable=False),
    sa.Column("request", sa.String(2000), nullable=False),  # the kick-off URL, for the manifest
    sa.Column("params", Content, nullable=False),  # level, types, _since, _typeFilter, group; import inputs
    sa.Column("cursor", Content, nullable=False),  # where the next step starts (per type / per input)
    sa.Column("done_count", sa.Integer, nullable=False, default=0),  # resources written so far
    sa.Column("transaction_time", sa.DateTime, nullable=False),  # naive UTC
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime, nullable=True),
    sa.Column("expires_at", sa.DateTime, nullable=True),  # purged after this (set when it finishes)
    sa.Column("error", sa.String(2000), nullable=True),  # why it failed: PHI-free
    sa.Index(None, "expires_at"),
)

bulk_file = sa.Table(
    "bulk_file",
    metadata,
    sa.Column("id", PrimaryKey, primary_key=True, autoincrement=True),
    sa.Column("job_id", sa.String(36), nullable=False),
    sa.Column("kind", sa.String(8), nullable=False),  # output | error
    sa.Column("res_type", sa.String(64), nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("content", sa.Text, nullable=False),  # ndjson, one resource a line
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Index(None, "job_id", "id"),
)
