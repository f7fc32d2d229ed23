"""The store's read side for aggregates: what a search selects, counted, grouped, read element by element or
locked, without loading whole resources.

Modules outside ``fhircrm.fhir`` never write SQL against the resource and index tables (``tests/test_import_rules``
keeps it so). They ask the store (``FhirStore.select``, ``FhirStore.dated``, ``FhirStore.lock``) and get one of
these objects, which starts from what the caller may search (the store policy's branches, compiled exactly as
``FhirStore.run_search`` compiles them) and reaches every other row from those resources' primary keys. Access is
decided in the store, once; the SQL is the same the callers used to compile themselves (same plans, same round
trips).

The objects hand out SQLAlchemy expressions (keys, joins) so that a caller can still GROUP BY its own dimensions;
each expression is anchored on the selection's rows and means nothing alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ColumnElement, FromClause, Select, Subquery

from fhircrm.fhir.search.param_types.base import split_prefix
from fhircrm.fhir.search.param_types.number import number_condition
from fhircrm.fhir.search.registry import sp_hash
from fhircrm.fhir.sql.tables import idx_date, idx_number, idx_reference, idx_token, resource

#: the caller's access to a type as a condition on ``resource`` (None: all of it)
Restrict = ColumnElement[bool] | None


class Join(NamedTuple):
    """A table a grouping key needs, joined to the selection's rows (``outer``: rows without one stay)."""

    target: FromClause
    on: ColumnElement[bool]
    outer: bool


@dataclass(frozen=True, slots=True)
class Selection:
    """The live resources of ``resource_type`` a search matches within the caller's access (``pks``: a SELECT of
    their primary keys, unordered)."""

    conn: AsyncConnection
    resource_type: str
    pks: Select

    async def count(self) -> int:
        """What ``_summary=count`` would answer."""
        return (await self.conn.execute(sa.select(sa.func.count()).select_from(self.pks.subquery()))).scalar_one()

    async def ids(self) -> set[str]:
        """The matches' FHIR ids."""
        return set((await self.conn.execute(self.pks.with_only_columns(resource.c.fhir_id))).scalars())

    async def referenced(self, param: str, target_type: str) -> set[str]:
        """Ids of the ``target_type`` resources of this store that the matches' ``param`` references (relative
        references only: an absolute one names another server's resource)."""
        statement = sa.select(idx_reference.c.target_id).where(
            idx_reference.c.res_pk.in_(self.pks),
            idx_reference.c.sp == sp_hash(self.resource_type, param),
            idx_reference.c.target_type == target_type,
            idx_reference.c.url.is_(None),
        )
        return set((await self.conn.execute(statement)).scalars())

    def coded(self, param: str, codes: Sequence[str]) -> Select:
        """(res_pk, code) of the matches whose token ``param`` (cardinality 1..1, e.g. ``status``) is one of
        ``codes``, system-less as a ``status=a,b`` search means them.

        The code is looked up per match outside the compiled search, which is materialized first: a status matches
        resources of every year, and inside the search PostgreSQL (above all without statistics) starts from all
        of them and checks the period afterwards. Here the search drives, and the code is one index lookup per
        match.
        """
        first = self.pks.cte().prefix_with("MATERIALIZED")
        code = (
            sa.select(idx_token.c.code)
            .where(idx_token.c.res_pk == first.c.id, idx_token.c.sp == sp_hash(self.resource_type, param))
            .limit(1)
            .scalar_subquery()
        )
        rows = sa.select(first.c.id.label("res_pk"), code.label("code")).subquery()
        return sa.select(rows.c.res_pk, rows.c.code).where(rows.c.code.in_(codes))

    async def count_codes(self, param: str, codes: Sequence[str]) -> dict[str, int]:
        """{code: matches} among ``codes`` of token ``param`` (as in ``coded``): every code counted in one query."""
        rows = self.coded(param, codes).subquery()
        query = sa.select(rows.c.code, sa.func.count(sa.distinct(rows.c.res_pk))).group_by(rows.c.code)
        return {code: n for code, n in await self.conn.execute(query)}

    async def elements(
        self, paths: Sequence[tuple[str, ...]], *, codes: tuple[str, Sequence[str]] | None = None
    ) -> list[tuple]:
        """The elements at ``paths`` (JSON paths into the resource) of every match, or (``codes`` = (param,
        codes)) of those whose token has one of the codes: no whole resource is decoded."""
        selected = self.pks
        if codes is not None:
            selected = sa.select(self.coded(*codes).subquery().c.res_pk)
        columns = [resource.c.content[path] if len(path) > 1 else resource.c.content[path[0]] for path in paths]
        query = sa.select(*columns).where(resource.c.id.in_(selected))
        return [tuple(row) for row in await self.conn.execute(query)]

    async def number_counts(
        self, param: str, conditions: dict[str, str], *, tags: tuple[str, Sequence[str]] | None = None
    ) -> dict[str, dict[str, int]]:
        """{"all" (and each tag code): {name: matches whose number ``param`` satisfies conditions[name]}}, e.g.
        ``{"total": "ge0", "promoters": "ge9"}``: what one ``param=ge9`` (``_tag=system|code``) search each would
        count, in one query (two with ``tags`` = (system, codes)), reading the ``param`` index rows only."""
        value = idx_number.c.value
        counted = []
        for condition in conditions.values():
            prefix, number = split_prefix(condition)
            met = number_condition(prefix, Decimal(number), value)
            counted.append(sa.func.count(sa.distinct(sa.case((met, idx_number.c.res_pk)))))
        where = [idx_number.c.sp == sp_hash(self.resource_type, param), idx_number.c.res_pk.in_(self.pks)]
        rows = [("all", *(await self.conn.execute(sa.select(*counted).where(*where))).one())]
        if tags is not None:
            tag = idx_token.alias("tag")
            query = (
                sa.select(tag.c.code, *counted)
                .join(tag, tag.c.res_pk == idx_number.c.res_pk)
                .where(
                    *where,
                    tag.c.sp == sp_hash(self.resource_type, "_tag"),
                    tag.c.system == tags[0],
                    tag.c.code.in_(tags[1]),
                )
                .group_by(tag.c.code)
            )
            rows.extend(await self.conn.execute(query))
        return {key: dict(zip(conditions, ns, strict=True)) for key, *ns in rows}

    async def lock(self, limit: int) -> list[dict]:
        """Up to ``limit`` of the matches, locked for the caller's transaction with ``FOR UPDATE SKIP LOCKED``
        (PostgreSQL; SQLite has one writer), so that concurrent workers split them; chosen and locked in one
        statement. FHIR search has no way to say "and skip what another transaction holds"."""
        rows = await self.conn.execute(
            self.pks.with_only_columns(resource.c.content).limit(limit).with_for_update(skip_locked=True)
        )
        return [content for (content,) in rows]


@dataclass(frozen=True, slots=True)
class Dated:
    """(pk, start, code) of the resources of ``resource_type`` whose date parameter starts in [since, until] and
    whose token parameter is one of some codes, within the caller's access (``rows``), for grouped counts.

    Only index rows are read: a deleted resource has none, so the resource table is not needed. Both index tables
    are read by their (sp, value) indexes and hash-joined on res_pk when the planner has statistics (ANALYZE).
    """

    conn: AsyncConnection
    resource_type: str
    rows: Subquery
    #: the caller's access to another type this object reads (``referrer_code``): the store's policy, compiled
    #: as for a search of that type; ``sa.false()`` when the caller may not search it at all
    access: Callable[[str], Restrict]

    def _pks(self) -> Select:
        """The rows' primary keys: grouping subqueries read the index rows of these only, not of every resource
        of the type."""
        return sa.select(self.rows.c.pk)

    def token_label(self, param: str) -> tuple[ColumnElement, list[Join]]:
        """Each row's token ``param`` as a label (the least display, else code; NULL without one)."""
        label = (
            sa.select(
                idx_token.c.res_pk,
                sa.func.min(sa.func.coalesce(idx_token.c.display, idx_token.c.code)).label("label"),
            )
            .where(idx_token.c.sp == sp_hash(self.resource_type, param), idx_token.c.res_pk.in_(self._pks()))
            .group_by(idx_token.c.res_pk)
            .subquery()
        )
        return label.c.label, [Join(label, label.c.res_pk == self.rows.c.pk, True)]

    def token(self, param: str, system: str | None = None) -> tuple[ColumnElement, list[Join]]:
        """Each code of the rows' token ``param`` (of ``system`` only, when given): a row per code."""
        code = idx_token.alias(f"tok_{param.replace('-', '_')}")
        on = sa.and_(code.c.res_pk == self.rows.c.pk, code.c.sp == sp_hash(self.resource_type, param))
        if system is not None:
            on = sa.and_(on, code.c.system == system)
        return code.c.code, [Join(code, on, False)]

    def reference(self, param: str, types: Sequence[str]) -> tuple[ColumnElement, list[Join]]:
        """The "Type/id" of each local reference of the rows' ``param`` to one of ``types`` (a row per reference)."""
        ref = idx_reference.alias(f"ref_{param.replace('-', '_')}")
        on = sa.and_(
            ref.c.res_pk == self.rows.c.pk,
            ref.c.sp == sp_hash(self.resource_type, param),
            ref.c.target_type.in_(types),
            ref.c.url.is_(None),
        )
        return ref.c.target_type + "/" + ref.c.target_id, [Join(ref, on, False)]

    def referrer_code(self, referrer: str, ref_param: str, code_param: str) -> tuple[ColumnElement, list[Join]]:
        """The token ``code_param`` of the latest (last stored) ``referrer`` resource that references the row
        through ``ref_param`` (e.g. a RiskAssessment's ``risk`` through its ``basis``); NULL without one, or when
        the caller may not search ``referrer`` resources."""
        mine = resource.alias("mine")
        refs = sa.select(
            idx_reference.c.target_id.label("target"), sa.func.max(idx_reference.c.res_pk).label("pk")
        ).where(
            idx_reference.c.sp == sp_hash(referrer, ref_param),
            idx_reference.c.target_type == self.resource_type,
            idx_reference.c.target_id.in_(sa.select(mine.c.fhir_id).where(mine.c.id.in_(self._pks()))),
        )
        restrict = self.access(referrer)
        if restrict is not None:
            refs = refs.where(idx_reference.c.res_pk.in_(sa.select(resource.c.id).where(restrict)))
        latest = refs.group_by(idx_reference.c.target_id).subquery()
        code = idx_token.alias(f"code_{code_param.replace('-', '_')}")
        joins = [
            Join(resource, resource.c.id == self.rows.c.pk, False),
            Join(latest, latest.c.target == resource.c.fhir_id, True),
            Join(code, sa.and_(code.c.res_pk == latest.c.pk, code.c.sp == sp_hash(referrer, code_param)), True),
        ]
        return code.c.code, joins

    def referenced(self, param: str, target_type: str) -> Select:
        """SELECT target_id of the rows' ``param`` references to ``target_type`` (one per reference)."""
        return (
            sa.select(idx_reference.c.target_id)
            .join(self.rows, self.rows.c.pk == idx_reference.c.res_pk)
            .where(idx_reference.c.sp == sp_hash(self.resource_type, param), idx_reference.c.target_type == target_type)
        )

    def narrowed(self, pks: Select | Sequence[int]) -> Dated:
        """Only the rows of the resources ``pks`` selects (a ``Selection.pks``, or their values): a search's
        matches, or the few resources one write touched."""
        rows = sa.select(self.rows).where(self.rows.c.pk.in_(pks)).subquery()
        return Dated(self.conn, self.resource_type, rows, self.access)

    async def held(self, pks: Sequence[int]) -> Dated:
        """Only the rows of the resources ``pks`` (a few), read once and held as values (``_table``): each read
        that follows starts from these rows, whatever the planner knows of the index tables. During a bulk load
        it knows nothing (no ANALYZE yet), and with ``narrowed`` it chose nested loops that read every row of the
        type once per row (seconds for each write of a few hundred Appointments). SQLite is given the pks as an
        IN list of literals (integers: no bind-variable limit), which it reads by index; joined to ``json_each`` it
        scanned the type's rows once per write (28.9 of 32.6 s of upkeep while seeding 2,000 patients)."""
        if not pks:
            return self.narrowed(())
        if self.conn.dialect.name == "postgresql":
            wanted = _table("postgresql", "wanted", [("pk", sa.BigInteger)], [(pk,) for pk in pks])
            query = sa.select(self.rows).join(wanted, wanted.c.pk == self.rows.c.pk)  # from the pks, by index
        else:
            listed = sa.bindparam("held_pks", [int(pk) for pk in pks], expanding=True, literal_execute=True)
            query = sa.select(self.rows).where(self.rows.c.pk.in_(listed))
        found = [tuple(row) for row in await self.conn.execute(query)]
        if not found:
            return self.narrowed(())
        columns = [("pk", sa.BigInteger), ("start", sa.DateTime), ("code", sa.String)]
        return Dated(self.conn, self.resource_type, _table(self.conn.dialect.name, "held", columns, found), self.access)

    async def keyed(self, key: ColumnElement | None = None, joins: Sequence[Join] = ()) -> list[tuple]:
        """(fhir id, start, code[, key]) of every row, a row per value of ``key`` (NULL without one): what each
        resource adds to the grouped counts, for tallies kept per resource."""
        ident = resource.alias("ident")
        columns = [ident.c.fhir_id, self.rows.c.start, self.rows.c.code, *([] if key is None else [key])]
        query = sa.select(*columns).select_from(self.rows).join(ident, ident.c.id == self.rows.c.pk)
        for target, on, outer in joins:
            query = query.join(target, on, isouter=outer)
        return [tuple(row) for row in await self.conn.execute(query)]

    async def keys(self, keys: Sequence[tuple[str, ColumnElement, Sequence[Join]]]) -> list[tuple]:
        """(fhir id, name, key) of every row for each (name, key, joins) of ``keys``, a row per value of the key
        (NULL without one): what ``keyed`` gives for each key, in one statement (UNION ALL) instead of one each."""
        ident = resource.alias("ident")
        parts = []
        for name, key, joins in keys:
            query = (
                sa.select(ident.c.fhir_id, sa.literal(name).label("name"), sa.cast(key, sa.String).label("key"))
                .select_from(self.rows)
                .join(ident, ident.c.id == self.rows.c.pk)
            )
            for target, on, outer in joins:
                query = query.join(target, on, isouter=outer)
            parts.append(query)
        return [tuple(row) for row in await self.conn.execute(sa.union_all(*parts))]

    async def elements_by_id(self, paths: Sequence[tuple[str, ...]]) -> list[tuple]:
        """(fhir id, the elements at ``paths``...) of each row's live resource: those elements only."""
        columns = [resource.c.content[path] if len(path) > 1 else resource.c.content[path[0]] for path in paths]
        query = (
            sa.select(resource.c.fhir_id, *columns)
            .join(self.rows, self.rows.c.pk == resource.c.id)
            .where(resource.c.deleted.is_(False), resource.c.content.is_not(None))
        )
        return [tuple(row) for row in await self.conn.execute(query)]

    async def element(self, name: str) -> list:
        """The top-level element ``name`` of each row's live resource (absent: None): that element only."""
        query = (
            sa.select(resource.c.content[name])
            .join(self.rows, self.rows.c.pk == resource.c.id)
            .where(resource.c.deleted.is_(False), resource.c.content.is_not(None))
        )
        return [value for (value,) in await self.conn.execute(query)]


_ARRAYS = {sa.BigInteger: "BIGINT[]", sa.DateTime: "TIMESTAMP[]", sa.String: "TEXT[]"}


def _table(dialect: str, name: str, columns: list[tuple[str, type]], rows: list[tuple]) -> Subquery:
    """``rows`` as a table read from one bind per column (PostgreSQL arrays) or one JSON bind (SQLite): the same
    SQL however many rows, so it is compiled once and the statement stays short."""
    names = [column for column, _ in columns]
    if dialect == "postgresql":
        values = zip(*rows, strict=True)
        binds = {f"{name}_{column}": list(each) for column, each in zip(names, values, strict=True)}
        arrays = ", ".join(f"CAST(:{name}_{column} AS {_ARRAYS[kind]})" for column, kind in columns)
        query = sa.text(f"SELECT * FROM unnest({arrays}) AS {name}({', '.join(names)})").bindparams(**binds)
    else:
        data = [[value.isoformat(sep=" ") if isinstance(value, datetime) else value for value in row] for row in rows]
        picks = ", ".join(f"json_extract(value, '$[{i}]') AS {column}" for i, column in enumerate(names))
        query = sa.text(f"SELECT {picks} FROM json_each(:{name})").bindparams(**{name: json.dumps(data)})
    return query.columns(**dict(columns)).subquery(name)


async def version_stamp(conn: AsyncConnection, resource_type: str) -> tuple[int, int]:
    """(how many, sum of their version numbers) of the ``resource_type`` resources, deleted ones included: every
    create, update and delete of one changes it. One indexed aggregate."""
    query = sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(resource.c.version), 0)).where(
        resource.c.res_type == resource_type
    )
    count, versions = (await conn.execute(query)).one()
    return int(count), int(versions)


def dated_rows(
    resource_type: str,
    date_param: str,
    code_param: str,
    codes: Sequence[str],
    since: datetime,
    until: datetime,
    restrict: Restrict,
) -> Subquery:
    """The ``Dated`` rows: ``since``/``until`` naive UTC, as index dates are."""
    start = idx_date.alias("start")
    code = idx_token.alias("code")
    query = (
        sa.select(start.c.res_pk.label("pk"), start.c.low.label("start"), code.c.code.label("code"))
        .join(code, sa.and_(code.c.res_pk == start.c.res_pk, code.c.sp == sp_hash(resource_type, code_param)))
        .where(
            start.c.sp == sp_hash(resource_type, date_param),
            start.c.low >= since,
            start.c.low <= until,
            code.c.code.in_(codes),
        )
    )
    if restrict is not None:
        query = query.where(start.c.res_pk.in_(sa.select(resource.c.id).where(restrict)))
    return query.subquery()
