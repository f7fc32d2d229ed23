"""Tables of the FHIR store, HAPI style and portable between PostgreSQL and SQLite.

``resource`` holds the current version of each resource, ``resource_history`` every version. Search indexes
live in one narrow table per parameter type; ``sp`` is a 64-bit hash of (resource type, parameter code), so a
new SearchParameter needs no DDL and index keys stay small. Which table a type uses, and how values become its
rows, is the type's object (``fhir/search/param_types/``). Dates are stored as UTC ``low``/``high`` bounds so
that periods and partial dates match the way the FHIR search rules say.

Every index of an index table is covering on PostgreSQL (``INCLUDE``): the value indexes carry ``res_pk`` and
the ``(res_pk, sp)`` indexes carry the values, so filter lookups, the semi-joins that check a second filter and
``_sort`` keys are all index-only scans and a search never reads table pages (SQLite ignores ``INCLUDE``).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# BIGINT on PostgreSQL, INTEGER on SQLite (so that it aliases the rowid and autoincrements).
PrimaryKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Content = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
Token = sa.String(255)

resource = sa.Table(
    "resource",
    metadata,
    sa.Column("id", PrimaryKey, primary_key=True, autoincrement=True),
    sa.Column("res_type", sa.String(64), nullable=False),
    sa.Column("fhir_id", sa.String(64), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("last_updated", sa.DateTime, nullable=False),  # naive UTC, so SQLite orders it too
    sa.Column("deleted", sa.Boolean, nullable=False, default=False),
    sa.Column("content", Content, nullable=True),
    sa.UniqueConstraint("res_type", "fhir_id"),
    sa.Index(None, "res_type", "last_updated"),
    sa.Index(None, "last_updated"),
    # Searches check each candidate is live (and of its type) without reading the large content rows.
    sa.Index(None, "id", postgresql_include=["res_type", "deleted"]),
)

resource_history = sa.Table(
    "resource_history",
    metadata,
    sa.Column("res_pk", PrimaryKey, sa.ForeignKey("resource.id"), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("res_type", sa.String(64), nullable=False),
    sa.Column("fhir_id", sa.String(64), nullable=False),
    sa.Column("last_updated", sa.DateTime, nullable=False),
    sa.Column("method", sa.String(8), nullable=False),
    sa.Column("deleted", sa.Boolean, nullable=False, default=False),
    sa.Column("content", Content, nullable=True),
    sa.Index(None, "res_type", "last_updated"),
    sa.Index(None, "last_updated"),
)


# Text too long to copy into an index entry (a btree entry must stay under ~2.7 kB); only :text and :exact read it.
_NOT_COVERED = frozenset({"display", "exact"})


def _index_table(name: str, *columns: sa.Column, indexes: tuple[sa.Index, ...] = ()) -> sa.Table:
    """An index table: (res_pk, sp) plus the value columns of one parameter type."""
    return sa.Table(
        name,
        metadata,
        sa.Column("res_pk", PrimaryKey, sa.ForeignKey("resource.id"), nullable=False),
        sa.Column("sp", sa.BigInteger, nullable=False),
        *columns,
        sa.Index(None, "res_pk", "sp", postgresql_include=[c.name for c in columns if c.name not in _NOT_COVERED]),
        *indexes,
    )


_WITH_PK = {"postgresql_include": ["res_pk"]}


idx_token = _index_table(
    "idx_token",
    sa.Column("system", Token, nullable=True),
    sa.Column("code", Token, nullable=True),
    sa.Column("display", Token, nullable=True),  # CodeableConcept.text / Coding.display, for :text
    indexes=(sa.Index(None, "sp", "code", "system", **_WITH_PK),),
)

idx_string = _index_table(
    "idx_string",
    sa.Column("norm", Token, nullable=False),  # lower case, accents removed: default and :contains
    sa.Column("exact", sa.String(1024), nullable=False),  # :exact
    indexes=(
        sa.Index("ix_idx_string_sp_norm", "sp", "norm", postgresql_ops={"norm": "varchar_pattern_ops"}, **_WITH_PK),
    ),
)

idx_date = _index_table(
    "idx_date",
    sa.Column("low", sa.DateTime, nullable=False),
    sa.Column("high", sa.DateTime, nullable=False),
    indexes=(sa.Index(None, "sp", "low", "high", **_WITH_PK), sa.Index(None, "sp", "high", **_WITH_PK)),
)

idx_reference = _index_table(
    "idx_reference",
    sa.Column("target_type", sa.String(64), nullable=True),
    sa.Column("target_id", sa.String(64), nullable=True),
    sa.Column("url", sa.String(1024), nullable=True),  # absolute and canonical references
    indexes=(
        sa.Index(None, "sp", "target_id", "target_type", postgresql_include=["url", "res_pk"]),
        # Only absolute and canonical references have a url: most rows would be NULL entries.
        sa.Index(
            None,
            "sp",
            "url",
            postgresql_where=sa.text("url IS NOT NULL"),
            sqlite_where=sa.text("url IS NOT NULL"),
            **_WITH_PK,
        ),
    ),
)

idx_number = _index_table(
    "idx_number",
    sa.Column("value", sa.Float, nullable=False),
    indexes=(sa.Index(None, "sp", "value", **_WITH_PK),),
)

idx_quantity = _index_table(
    "idx_quantity",
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("system", Token, nullable=True),
    sa.Column("code", Token, nullable=True),
    indexes=(sa.Index(None, "sp", "value", **_WITH_PK),),
)

idx_uri = _index_table(
    "idx_uri",
    sa.Column("uri", sa.String(1024), nullable=False),
    indexes=(sa.Index(None, "sp", "uri", **_WITH_PK),),
)
