"""covering search indexes

Every index of the search index tables becomes covering on PostgreSQL (INCLUDE), so the lookups, semi-joins and
_sort keys of a search are index-only scans; ``resource`` gets ``(id) INCLUDE (res_type, deleted)`` for the
liveness check; the reference url index only holds rows that have a url. Measured at 1M resources (see
benchmarks/README.md): table page reads per search drop to zero once the visibility map is set.

Numbered 0002 as planned, but chained after the revisions that landed first so that there is one head.

Revision ID: 0013_covering_indexes
Revises: 0012_smartapp_sessions
Create Date: 2026-11-27 09:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_covering_indexes"
down_revision = "0012_smartapp_sessions"
branch_labels = None
depends_on = None

# (table, index name, key columns, INCLUDE columns)
COVERED = [
    ("idx_date", "ix_idx_date_res_pk_sp", ["res_pk", "sp"], ["low", "high"]),
    ("idx_date", "ix_idx_date_sp_low_high", ["sp", "low", "high"], ["res_pk"]),
    ("idx_date", "ix_idx_date_sp_high", ["sp", "high"], ["res_pk"]),
    ("idx_number", "ix_idx_number_res_pk_sp", ["res_pk", "sp"], ["value"]),
    ("idx_number", "ix_idx_number_sp_value", ["sp", "value"], ["res_pk"]),
    ("idx_quantity", "ix_idx_quantity_res_pk_sp", ["res_pk", "sp"], ["value", "system", "code"]),
    ("idx_quantity", "ix_idx_quantity_sp_value", ["sp", "value"], ["res_pk"]),
    ("idx_reference", "ix_idx_reference_res_pk_sp", ["res_pk", "sp"], ["target_type", "target_id", "url"]),
    (
        "idx_reference",
        "ix_idx_reference_sp_target_id_target_type",
        ["sp", "target_id", "target_type"],
        ["url", "res_pk"],
    ),
    ("idx_string", "ix_idx_string_res_pk_sp", ["res_pk", "sp"], ["norm"]),
    ("idx_token", "ix_idx_token_res_pk_sp", ["res_pk", "sp"], ["system", "code"]),
    ("idx_token", "ix_idx_token_sp_code_system", ["sp", "code", "system"], ["res_pk"]),
    ("idx_uri", "ix_idx_uri_res_pk_sp", ["res_pk", "sp"], ["uri"]),
    ("idx_uri", "ix_idx_uri_sp_uri", ["sp", "uri"], ["res_pk"]),
]
NORM_OPS = {"norm": "varchar_pattern_ops"}
URL_PRESENT = sa.text("url IS NOT NULL")


def _recreate(table: str, name: str, columns: list[str], include: list[str], **kw: object) -> None:
    op.drop_index(name, table_name=table)
    op.create_index(name, table, columns, postgresql_include=include, **kw)


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.create_index("ix_resource_id", "resource", ["id"], postgresql_include=["res_type", "deleted"])
    op.drop_index("ix_idx_reference_sp_url", table_name="idx_reference")
    op.create_index(
        "ix_idx_reference_sp_url",
        "idx_reference",
        ["sp", "url"],
        postgresql_include=["res_pk"],
        postgresql_where=URL_PRESENT,
        sqlite_where=URL_PRESENT,
    )
    if not postgresql:  # SQLite has no INCLUDE: the other indexes stay as they are
        return
    for table, name, columns, include in COVERED:
        _recreate(table, name, columns, include)
    _recreate("idx_string", "ix_idx_string_sp_norm", ["sp", "norm"], ["res_pk"], postgresql_ops=NORM_OPS)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        _recreate("idx_string", "ix_idx_string_sp_norm", ["sp", "norm"], [], postgresql_ops=NORM_OPS)
        for table, name, columns, _include in COVERED:
            _recreate(table, name, columns, [])
    op.drop_index("ix_idx_reference_sp_url", table_name="idx_reference")
    op.create_index("ix_idx_reference_sp_url", "idx_reference", ["sp", "url"])
    op.drop_index("ix_resource_id", table_name="resource")
