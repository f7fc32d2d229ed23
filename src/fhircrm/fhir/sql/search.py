"""Compile a parsed ``SearchQuery`` into SQL over the index tables, run it, and fetch includes.

Each filter becomes ``resource.id IN (SELECT res_pk FROM idx_<type> WHERE sp = :sp AND <value condition>)``;
both PostgreSQL and SQLite plan these as index lookups. Chains and ``_has`` nest the same construction.
``_sort`` keys are scalar subqueries on the index table of their parameter; ``resource.id`` breaks ties, so
paging is stable.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement

from fhircrm.errors import BadRequest
from fhircrm.fhir.search.extract import identifier_code
from fhircrm.fhir.search.query import Filter, Include, SearchQuery
from fhircrm.fhir.search.registry import registry, sp_hash
from fhircrm.fhir.sql import conditions
from fhircrm.fhir.sql.tables import idx_date, idx_reference, idx_token, resource

_SORT_COLUMNS = {
    "token": ("code", "code"),
    "string": ("norm", "norm"),
    "date": ("low", "high"),
    "reference": ("target_id", "target_id"),
    "number": ("value", "value"),
    "quantity": ("value", "value"),
    "uri": ("uri", "uri"),
}


@dataclass(frozen=True, slots=True)
class Page:
    pks: list[int]
    has_next: bool
    total: int | None


def _value_condition(f: Filter, value: str) -> ColumnElement[bool]:
    return conditions.CONDITIONS[f.type](f, value)


def _check_modifier(f: Filter) -> None:
    if f.modifier is None:
        return
    allowed = conditions.MODIFIERS[f.type]
    if f.modifier in allowed:
        return
    if f.type == "reference" and f.modifier[0].isupper():
        return
    raise BadRequest(
        f"modifier :{f.modifier} is not supported on {f.type} parameter {f.code}", expression=f.raw_name or f.code
    )


def _column_filter(f: Filter, target: sa.FromClause) -> ColumnElement[bool]:
    """_id and _lastUpdated live on the resource table itself."""
    if f.code == "_id":
        negate = f.modifier == "not"
        condition = target.c.fhir_id.in_(f.values)
        return sa.not_(condition) if negate else condition
    parts = []
    for value in f.values:
        prefix, low, high = conditions.parse_date(f, value)
        parts.append(conditions.date_condition(prefix, low, high, target.c.last_updated, target.c.last_updated))
    return sa.or_(*parts)


def _index_subquery(f: Filter, sp: int, values: tuple[str, ...]) -> Select:
    table = conditions.TABLES[f.type]
    ors = [_value_condition(f, v) for v in values]
    return sa.select(table.c.res_pk).where(table.c.sp == sp, sa.or_(*ors))


def _param_condition(f: Filter, target: sa.FromClause) -> ColumnElement[bool]:
    """The condition ``f`` puts on rows of ``target`` (a resource table alias of type f.resource_type)."""
    if f.param is None:
        return _column_filter(f, target)
    _check_modifier(f)
    sp = f.param.sp
    if f.modifier == "missing":
        table = conditions.TABLES[f.type]
        present = target.c.id.in_(sa.select(table.c.res_pk).where(table.c.sp == sp))
        return sa.not_(present) if f.values[0] == "true" else present
    if f.modifier == "identifier":
        ident_sp = sp_hash(f.resource_type, identifier_code(f.code))
        token = Filter(f.resource_type, f.code, "token", f.param, None, f.values)
        ors = [conditions.token(token, v) for v in f.values]
        return target.c.id.in_(sa.select(idx_token.c.res_pk).where(idx_token.c.sp == ident_sp, sa.or_(*ors)))
    if f.modifier == "not":
        plain = Filter(f.resource_type, f.code, f.type, f.param, None, f.values)
        return target.c.id.not_in(_index_subquery(plain, sp, f.values))
    return target.c.id.in_(_index_subquery(f, sp, f.values))


def _chained_condition(f: Filter, target: sa.FromClause) -> ColumnElement[bool]:
    """``subject:Patient.name=x``: target's reference points at a resource matching the rest of the chain."""
    link, rest = f.chain[0], f.chain[1:]
    inner_filter = Filter(f.resource_type, f.code, f.type, f.param, f.modifier, f.values, rest, raw_name=f.raw_name)
    ors = []
    for target_type in link.target_types:
        referenced = resource.alias()
        # re-resolve the parameter on this target type: a chain may fan out over several types
        if inner_filter.chain or inner_filter.param is None:
            condition_filter = inner_filter
        else:
            param = registry().get(target_type, f.code)
            condition_filter = Filter(target_type, f.code, f.type, param, f.modifier, f.values)
        matching = sa.select(referenced.c.fhir_id).where(
            referenced.c.res_type == target_type,
            referenced.c.deleted.is_(False),
            _filter_condition(condition_filter, referenced),
        )
        ors.append(sa.and_(idx_reference.c.target_type == target_type, idx_reference.c.target_id.in_(matching)))
    refs = sa.select(idx_reference.c.res_pk).where(idx_reference.c.sp == link.param.sp, sa.or_(*ors))
    return target.c.id.in_(refs)


def _has_condition(f: Filter, target: sa.FromClause, target_type: str) -> ColumnElement[bool]:
    """``_has:Task:focus:status=ready``: some Task whose ``focus`` points at target matches status=ready."""
    (source_type, ref_param), rest = f.has[0], f.has[1:]
    source = resource.alias()
    inner = Filter(f.resource_type, f.code, f.type, f.param, f.modifier, f.values, f.chain, rest)
    pointing = (
        sa.select(idx_reference.c.target_id)
        .join(source, source.c.id == idx_reference.c.res_pk)
        .where(
            idx_reference.c.sp == ref_param.sp,
            idx_reference.c.target_type == target_type,
            source.c.deleted.is_(False),
            _filter_condition(inner, source, source_type),
        )
    )
    return target.c.fhir_id.in_(pointing)


def _filter_condition(f: Filter, target: sa.FromClause, target_type: str | None = None) -> ColumnElement[bool]:
    if f.has:
        return _has_condition(f, target, target_type or f.resource_type)
    if f.chain:
        return _chained_condition(f, target)
    return _param_condition(f, target)


def _merged_date_filters(filters: list[Filter]) -> tuple[list[ColumnElement[bool]], list[Filter]]:
    """AND of single-valued date filters on one parameter (``date=ge..&date=lt..``) as one range lookup.

    Two separate lookups would each match half the table; one lookup with both bounds stays narrow.
    """
    groups: dict[int, list[Filter]] = {}
    rest = []
    for f in filters:
        mergeable = (
            f.type == "date"
            and f.param is not None
            and not f.chain
            and not f.has
            and f.modifier is None
            and len(f.values) == 1
        )
        if mergeable:
            groups.setdefault(f.param.sp, []).append(f)
        else:
            rest.append(f)
    merged = []
    for sp, group in groups.items():
        if len(group) == 1:
            rest.append(group[0])
            continue
        ands = [conditions.date(f, f.values[0]) for f in group]
        merged.append(resource.c.id.in_(sa.select(idx_date.c.res_pk).where(idx_date.c.sp == sp, *ands)))
    return merged, rest


def _sort_key(resource_type: str, code: str, descending: bool) -> ColumnElement:
    if code == "_id":
        return resource.c.fhir_id
    if code == "_lastUpdated":
        return resource.c.last_updated
    param = registry().get(resource_type, code)
    if param is None:
        raise BadRequest(f"unknown _sort parameter: {code}", expression="_sort")
    table = conditions.TABLES[param.type]
    asc_col, desc_col = _SORT_COLUMNS[param.type]
    column = table.c[desc_col if descending else asc_col]
    aggregate = sa.func.max(column) if descending else sa.func.min(column)
    return sa.select(aggregate).where(table.c.res_pk == resource.c.id, table.c.sp == param.sp).scalar_subquery()


def compile_query(query: SearchQuery) -> Select:
    """SELECT resource.id of the live resources matching ``query`` (unordered)."""
    where: list[ColumnElement[bool]] = [resource.c.deleted.is_(False)]
    if query.resource_type:
        where.append(resource.c.res_type == query.resource_type)
    merged, rest = _merged_date_filters(query.filters)
    where.extend(merged)
    where.extend(_filter_condition(f, resource) for f in rest)
    return sa.select(resource.c.id).where(*where)


async def run(conn: AsyncConnection, query: SearchQuery, *, count: int, count_total: bool) -> Page:
    selected = compile_query(query)
    total = None
    if count_total:
        total = (await conn.execute(sa.select(sa.func.count()).select_from(selected.subquery()))).scalar_one()
    if count == 0:
        return Page([], False, total)
    order: list[ColumnElement] = []
    for code, descending in query.sort:
        key = _sort_key(query.resource_type or "Resource", code, descending)
        order.append(key.desc().nulls_last() if descending else key.asc().nulls_last())
    order.append(resource.c.id)
    rows = await conn.execute(selected.order_by(*order).offset(query.offset).limit(count + 1))
    pks = list(rows.scalars())
    return Page(pks[:count], len(pks) > count, total)


# --- _include / _revinclude -----------------------------------------------------------------------------------


async def includes(
    conn: AsyncConnection, matches: list[tuple[int, str, str]], specs: list[Include], *, limit: int, depth: int = 3
) -> list[int]:
    """Primary keys of resources included by ``specs`` for ``matches`` (pk, type, id), bounded by ``limit``."""
    found: dict[int, None] = {}
    seen = {pk for pk, _, _ in matches}
    frontier = matches
    for round_ in range(depth if any(s.iterate for s in specs) else 1):
        active = specs if round_ == 0 else [s for s in specs if s.iterate]
        new: list[tuple[int, str, str]] = []
        for spec in active:
            sources = [m for m in frontier if m[1] == spec.source_type or spec.reverse]
            if not sources:
                continue
            rows = await (_reverse(conn, spec, sources) if spec.reverse else _forward(conn, spec, sources))
            for pk, res_type, fhir_id in rows:
                if pk not in seen:
                    seen.add(pk)
                    found[pk] = None
                    new.append((pk, res_type, fhir_id))
                    if len(found) >= limit:
                        return list(found)
        if not new:
            break
        frontier = new
    return list(found)


def _reference_sps(source_type: str, code: str) -> list[int]:
    if code != "*":
        return [sp_hash(source_type, code)]
    return [p.sp for p in registry().params(source_type).values() if p.type == "reference"]


async def _forward(conn: AsyncConnection, spec: Include, sources: list[tuple[int, str, str]]) -> list[tuple]:
    ref = idx_reference
    target = resource.alias()
    query = (
        sa.select(target.c.id, target.c.res_type, target.c.fhir_id)
        .join(ref, sa.and_(ref.c.target_type == target.c.res_type, ref.c.target_id == target.c.fhir_id))
        .where(
            ref.c.res_pk.in_([pk for pk, _, _ in sources]),
            ref.c.sp.in_(_reference_sps(spec.source_type, spec.param)),
            target.c.deleted.is_(False),
        )
        .distinct()
    )
    if spec.target_type:
        query = query.where(target.c.res_type == spec.target_type)
    return list(await conn.execute(query))


async def _reverse(conn: AsyncConnection, spec: Include, targets: list[tuple[int, str, str]]) -> list[tuple]:
    ref = idx_reference
    source = resource.alias()
    keys = [(res_type, fhir_id) for _, res_type, fhir_id in targets]
    query = (
        sa.select(source.c.id, source.c.res_type, source.c.fhir_id)
        .join(ref, ref.c.res_pk == source.c.id)
        .where(
            ref.c.sp.in_(_reference_sps(spec.source_type, spec.param)),
            sa.tuple_(ref.c.target_type, ref.c.target_id).in_(keys),
            source.c.deleted.is_(False),
        )
        .distinct()
    )
    if spec.target_type:
        query = query.where(ref.c.target_type == spec.target_type)
    return list(await conn.execute(query))
