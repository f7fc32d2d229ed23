"""Compile a parsed ``SearchQuery`` into SQL over the index tables and run it.

Each filter becomes ``resource.id IN (SELECT res_pk FROM idx_<type> WHERE sp = :sp AND <value condition>)``;
both PostgreSQL and SQLite plan these as index lookups. Chains and ``_has`` nest the same construction.
``_sort`` keys are scalar subqueries on the index table of their parameter; ``resource.id`` breaks ties, so
paging is stable. ``_include`` and ``_revinclude`` live in ``sql/includes.py``. What differs by parameter type
(table, value condition, modifiers, sort columns) is the type's object in ``search/param_types/``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement

from fhircrm.fhir.resource_types import RESOURCE_TYPE_SET, RESOURCE_TYPES
from fhircrm.fhir.search.extract import identifier_code
from fhircrm.fhir.search.param_types.base import refusal
from fhircrm.fhir.search.param_types.date import parse_date, range_condition
from fhircrm.fhir.search.param_types.reference import local_reference
from fhircrm.fhir.search.query import Chain, Filter, Has, SearchQuery, parse
from fhircrm.fhir.search.registry import registry, sp_hash
from fhircrm.fhir.sql.tables import idx_reference, resource

_COLUMN_MODIFIERS: dict[str, frozenset[str]] = {"_id": frozenset({"not"}), "_lastUpdated": frozenset()}
#: token codes with a meaning of order, sorted by that order rather than alphabetically (request-priority)
_ORDINAL_CODES = {"priority": ("routine", "urgent", "asap", "stat")}


@dataclass(frozen=True, slots=True)
class Page:
    pks: list[int]
    has_next: bool
    total: int | None


def _check_modifier(f: Filter) -> None:
    if f.modifier is None:
        return
    name = f.raw_name or f.code
    modifiers = _COLUMN_MODIFIERS[f.code] if f.param is None else f.kind.modifiers
    if f.modifier in modifiers:
        return
    if f.param is not None and f.kind.type_modifier and f.modifier in RESOURCE_TYPE_SET:  # :[type]
        if f.param.targets and f.modifier not in f.param.targets:
            targets = ", ".join(f.param.targets)
            raise refusal(name, f.raw_value, f"{f.code} cannot refer to a {f.modifier} (only to {targets})")
        return
    known = ", ".join(f":{m}" for m in sorted(modifiers)) or "none"
    if f.kind.type_modifier:
        known += ", :[type]"
    why = f"':{f.modifier[:64]}' is not a modifier of the {f.type} search parameter {f.code} (its modifiers: {known})"
    raise refusal(name, f.raw_value, why)


def _sp_condition(f: Filter, table: sa.Table, code: str | None = None) -> ColumnElement[bool]:
    """``sp = ..``; a parameter of every resource in a system-level search fans out over the types."""
    assert f.param is not None
    code = code or f.code
    if f.param.resource_type != "Resource":
        return table.c.sp == sp_hash(f.resource_type, code)
    types = f.types or RESOURCE_TYPES
    return table.c.sp.in_(sorted({sp_hash(t, code) for t in types}))


def _column_filter(f: Filter, target: sa.FromClause) -> ColumnElement[bool]:
    """_id and _lastUpdated live on the resource table itself."""
    if f.code == "_id":
        condition = target.c.fhir_id.in_(f.values)
        return sa.not_(condition) if f.modifier == "not" else condition
    parts = []
    for value in f.values:
        prefix, low, high = parse_date(f, value)
        parts.append(range_condition(prefix, low, high, target.c.last_updated, target.c.last_updated))
    return sa.or_(*parts)


def _index_subquery(f: Filter) -> Select:
    kind = f.kind
    ors = [kind.condition(f, v) for v in f.values]
    return sa.select(kind.table.c.res_pk).where(_sp_condition(f, kind.table), sa.or_(*ors))


def _param_condition(f: Filter, target: sa.FromClause) -> ColumnElement[bool]:
    """The condition ``f`` puts on rows of ``target`` (a resource table alias of type f.resource_type)."""
    _check_modifier(f)
    if f.param is None:
        return _column_filter(f, target)
    if f.modifier == "missing":
        table = f.kind.table
        present = target.c.id.in_(sa.select(table.c.res_pk).where(_sp_condition(f, table)))
        return sa.not_(present) if f.values[0] == "true" else present
    if f.modifier == "identifier" and (identifier := f.kind.identifier) is not None:
        as_identifier = replace(f, type=identifier.name, modifier=None)
        ors = [identifier.condition(as_identifier, v) for v in f.values]
        sp = _sp_condition(f, identifier.table, identifier_code(f.code))
        return target.c.id.in_(sa.select(identifier.table.c.res_pk).where(sp, sa.or_(*ors)))
    if f.modifier == "not":
        return target.c.id.not_in(_index_subquery(replace(f, modifier=None)))
    return target.c.id.in_(_index_subquery(f))


def _chained_condition(f: Filter, target: sa.FromClause) -> ColumnElement[bool]:
    """``subject:Patient.name=x``: target's reference points at a resource matching the rest of the chain."""
    link, rest = f.chain[0], f.chain[1:]
    assert isinstance(link, Chain)
    ors = []
    for target_type in link.target_types:
        referenced = resource.alias()
        # re-resolve the parameter on this target type: a chain may fan out over several types
        inner = replace(f, chain=rest)
        if not rest and f.param is not None:
            param = registry().get(target_type, f.code)
            if param is None:
                continue
            inner = replace(inner, resource_type=target_type, param=param, type=param.type)
        matching = sa.select(referenced.c.fhir_id).where(
            referenced.c.res_type == target_type,
            referenced.c.deleted.is_(False),
            _filter_condition(inner, referenced, target_type),
        )
        ors.append(sa.and_(idx_reference.c.target_type == target_type, idx_reference.c.target_id.in_(matching)))
    refs = sa.select(idx_reference.c.res_pk).where(
        idx_reference.c.sp == link.param.sp, local_reference(f.base), sa.or_(*ors)
    )
    return target.c.id.in_(refs)


def _has_condition(f: Filter, target: sa.FromClause, target_type: str) -> ColumnElement[bool]:
    """``_has:Task:focus:status=ready``: some Task whose ``focus`` points at target matches status=ready."""
    link, rest = f.chain[0], f.chain[1:]
    assert isinstance(link, Has)
    source_type, ref_param = link.source_type, link.param
    source = resource.alias()
    inner = replace(f, chain=rest)
    pointing = (
        sa.select(idx_reference.c.target_id)
        .join(source, source.c.id == idx_reference.c.res_pk)
        .where(
            idx_reference.c.sp == ref_param.sp,
            idx_reference.c.target_type == target_type,
            local_reference(f.base),
            source.c.deleted.is_(False),
            _filter_condition(inner, source, source_type),
        )
    )
    return target.c.fhir_id.in_(pointing)


def _filter_condition(f: Filter, target: sa.FromClause, target_type: str | None = None) -> ColumnElement[bool]:
    if f.chain and isinstance(f.chain[0], Has):
        return _has_condition(f, target, target_type or f.resource_type)
    if f.chain:
        return _chained_condition(f, target)
    return _param_condition(f, target)


def _merged_date_filters(filters: list[Filter]) -> tuple[list[ColumnElement[bool]], list[Filter]]:
    """AND of single-valued date filters on one parameter (``date=ge..&date=lt..``) as one range lookup.

    Two separate lookups would each match half the table; one lookup with both bounds stays narrow. Both
    bounds then apply to one stored value, which is what a range means (a Period is one value, not two).
    """
    groups: dict[int, list[Filter]] = {}
    rest = []
    for f in filters:
        mergeable = (
            f.param is not None
            and f.param.kind.merge_ranges
            and f.param.resource_type != "Resource"
            and not f.chain
            and f.modifier is None
            and len(f.values) == 1
        )
        if mergeable:
            assert f.param is not None
            groups.setdefault(f.param.sp, []).append(f)
        else:
            rest.append(f)
    merged = []
    for sp, group in groups.items():
        if len(group) == 1:
            rest.append(group[0])
            continue
        kind = group[0].kind
        ands = [kind.condition(f, f.values[0]) for f in group]
        merged.append(resource.c.id.in_(sa.select(kind.table.c.res_pk).where(kind.table.c.sp == sp, *ands)))
    return merged, rest


def _sort_key(resource_type: str, code: str, descending: bool) -> ColumnElement:
    if code == "_id":
        return resource.c.fhir_id
    if code == "_lastUpdated":
        return resource.c.last_updated
    param = registry().get(resource_type, code)
    if param is None:
        raise refusal("_sort", f"-{code}" if descending else code, f"{resource_type} has no search parameter '{code}'")
    table = param.kind.table
    asc_col, desc_col = param.kind.sort
    column = table.c[desc_col if descending else asc_col]
    if param.type == "token" and code in _ORDINAL_CODES:
        ranks = _ORDINAL_CODES[code]
        column = sa.case({c: rank for rank, c in enumerate(ranks)}, value=column)
    aggregate = sa.func.max(column) if descending else sa.func.min(column)
    # ``sp + 0`` keeps SQLite from walking the (sp, value) index for MIN/MAX over every resource: the lookup
    # must start from (res_pk, sp), a few rows per resource.
    return sa.select(aggregate).where(table.c.res_pk == resource.c.id, table.c.sp + 0 == param.sp).scalar_subquery()


def _selects_by_type(f: Filter) -> bool:
    """Whether ``f`` only matches resources of its type: index rows are keyed by (type, parameter).

    The type condition is then redundant, and leaving it out keeps SQLite (which has no statistics) from
    scanning every resource of the type instead of starting from the index lookup.
    """
    if (f.chain and isinstance(f.chain[0], Has)) or f.param is None or f.param.resource_type == "Resource":
        return False
    return f.modifier not in ("not", "missing")


def restriction(resource_type: str, branches: list[list[tuple[str, str]]]) -> ColumnElement[bool]:
    """An access policy's branches (OR of AND-ed search parameters) as a condition on ``resource``."""
    ors: list[ColumnElement[bool]] = []
    for branch in branches:
        parsed = parse(resource_type, branch, strict=True)
        ands = [_filter_condition(f, resource, resource_type) for f in parsed.filters]
        ors.append(sa.and_(sa.true(), *ands))
    return sa.or_(sa.false(), *ors)


def compile_query(query: SearchQuery, *, restrict: ColumnElement[bool] | None = None) -> Select:
    """SELECT resource.id of the live resources matching ``query`` (unordered), within ``restrict``."""
    where: list[ColumnElement[bool]] = [resource.c.deleted.is_(False)]
    if restrict is not None:
        where.append(restrict)
    if query.resource_type and not any(_selects_by_type(f) for f in query.filters):
        where.append(resource.c.res_type == query.resource_type)
    elif query.types:
        where.append(resource.c.res_type.in_(query.types))
    filters = [replace(f, base=query.base, types=query.types) for f in query.filters]
    merged, rest = _merged_date_filters(filters)
    where.extend(merged)
    where.extend(_filter_condition(f, resource, query.resource_type) for f in rest)
    return sa.select(resource.c.id).where(*where)


async def run(
    conn: AsyncConnection,
    query: SearchQuery,
    *,
    count: int,
    count_total: bool,
    restrict: ColumnElement[bool] | None = None,
) -> Page:
    selected = compile_query(query, restrict=restrict)
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


async def visible_pks(
    conn: AsyncConnection, resource_type: str, pks: list[int], branches: list[list[tuple[str, str]]]
) -> set[int]:
    """Which of ``pks`` (resources of ``resource_type``) satisfy an access policy's branches."""
    if not pks:
        return set()
    rows = await conn.execute(
        sa.select(resource.c.id).where(resource.c.id.in_(pks), restriction(resource_type, branches))
    )
    return set(rows.scalars())
