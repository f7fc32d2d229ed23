"""Indicator populations as SQL: the FHIR search an indicator means, compiled by the store's search compiler
(so it means exactly what that search means, on PostgreSQL and SQLite, within the caller's access), then
counted per status or read element by element in one query.

One ``_summary=count`` search per status, or paging whole resources into Python to read two fields, is what
made an indicator take seconds over a 100k-patient clinic; here each indicator is one or two queries and reads
only the elements it needs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.sql import Select

from fhircrm.fhir.search import query as search_query
from fhircrm.fhir.search.registry import sp_hash
from fhircrm.fhir.sql import search as sql_search
from fhircrm.fhir.sql.conditions import number_condition, split_prefix
from fhircrm.fhir.sql.tables import idx_number, idx_token, resource
from fhircrm.fhir.store import FhirStore
from fhircrm.indicators.counting import Members, members_param


def matched(
    store: FhirStore,
    resource_type: str,
    params: list[tuple[str, str]],
    *,
    segment: Members = None,
    patient_param: str = "patient",
) -> Select:
    """SELECT resource.id of the live matches, restricted as the caller's own search would be."""
    query = search_query.parse(resource_type, [*params, *members_param(segment, patient_param)])
    branches = store.branches("search", resource_type)
    restrict = None if branches is None else sql_search.restriction(resource_type, branches)
    return sql_search.compile_query(query, restrict=restrict)


async def count(store: FhirStore, resource_type: str, params: list[tuple[str, str]], **kw: object) -> int:
    """The ``_summary=count`` total of the search, without a SearchResult around it."""
    selected = matched(store, resource_type, params, **kw).subquery()  # type: ignore[arg-type]
    return (await store.conn.execute(sa.select(sa.func.count()).select_from(selected))).scalar_one()


def with_status(selected: Select, resource_type: str, codes: Sequence[str]) -> Select:
    """(res_pk, status) of the ``selected`` resources whose status is one of ``codes`` (system-less, as a
    ``status=a,b`` search means them).

    The status is looked up per match outside the compiled search, which is materialized first: a status
    matches resources of every year, and inside the search PostgreSQL (above all without statistics) starts
    from all of them and checks the period afterwards. Here the period drives, and the status is one index
    lookup per match (``status`` has cardinality 1..1).
    """
    first = selected.cte().prefix_with("MATERIALIZED")
    status = (
        sa.select(idx_token.c.code)
        .where(idx_token.c.res_pk == first.c.id, idx_token.c.sp == sp_hash(resource_type, "status"))
        .limit(1)
        .scalar_subquery()
    )
    rows = sa.select(first.c.id.label("res_pk"), status.label("code")).subquery()
    return sa.select(rows.c.res_pk, rows.c.code).where(rows.c.code.in_(codes))


#: by_status answers kept while ``shared()`` is open: indicators over the same slice share one count
_shared: ContextVar[dict[tuple, dict[str, int]] | None] = ContextVar("indicator_counts", default=None)


@contextmanager
def shared() -> Iterator[None]:
    """Within this block, equal ``by_status`` questions are asked of the database once (``compute_all``:
    no-show and late cancellation count the same Appointments)."""
    token = _shared.set({})
    try:
        yield
    finally:
        _shared.reset(token)


async def by_status(
    store: FhirStore,
    resource_type: str,
    params: list[tuple[str, str]],
    codes: Sequence[str],
    *,
    segment: Members = None,
    patient_param: str = "patient",
) -> dict[str, int]:
    """{status: matches} among ``codes``: every status counted in one query."""
    cache = _shared.get()
    key = (id(store), resource_type, tuple(params), tuple(codes), segment, patient_param)
    if cache is not None and key in cache:
        return cache[key]
    counts = await _by_status(store, resource_type, params, codes, segment, patient_param)
    if cache is not None:
        cache[key] = counts
    return counts


async def _by_status(
    store: FhirStore,
    resource_type: str,
    params: list[tuple[str, str]],
    codes: Sequence[str],
    segment: Members,
    patient_param: str,
) -> dict[str, int]:
    selected = matched(store, resource_type, params, segment=segment, patient_param=patient_param)
    rows = with_status(selected, resource_type, codes).subquery()
    query = sa.select(rows.c.code, sa.func.count(sa.distinct(rows.c.res_pk))).group_by(rows.c.code)
    return {code: n for code, n in await store.conn.execute(query)}


async def elements(
    store: FhirStore,
    resource_type: str,
    params: list[tuple[str, str]],
    paths: Sequence[tuple[str, ...]],
    *,
    status: Sequence[str] | None = None,
    segment: Members = None,
    patient_param: str = "patient",
) -> list[tuple]:
    """The elements at ``paths`` (JSON paths into the resource) of every match with one of the ``status``
    codes (as in ``by_status``): no whole resource is decoded."""
    selected = matched(store, resource_type, params, segment=segment, patient_param=patient_param)
    if status is not None:
        selected = sa.select(with_status(selected, resource_type, status).subquery().c.res_pk)
    columns = [resource.c.content[path] if len(path) > 1 else resource.c.content[path[0]] for path in paths]
    query = sa.select(*columns).where(resource.c.id.in_(selected))
    return [tuple(row) for row in await store.conn.execute(query)]


async def score_counts(
    store: FhirStore,
    resource_type: str,
    params: list[tuple[str, str]],
    scores: dict[str, str],
    *,
    tags: tuple[str, Sequence[str]] | None = None,
    segment: Members = None,
) -> dict[str, dict[str, int]]:
    """{"all" (and each tag code): {name: matches whose ``score`` satisfies scores[name]}}, e.g. scores
    ``{"total": "ge0", "promoters": "ge9"}``: what one ``score=ge9`` (``_tag=system|code``) search each would
    count, in one query (two with ``tags`` = (system, codes)), reading the ``score`` index rows only."""
    selected = matched(store, resource_type, params, segment=segment)
    value = idx_number.c.value
    counted = []
    for condition in scores.values():
        prefix, number = split_prefix(condition)
        met = number_condition(prefix, Decimal(number), value)
        counted.append(sa.func.count(sa.distinct(sa.case((met, idx_number.c.res_pk)))))
    where = [idx_number.c.sp == sp_hash(resource_type, "score"), idx_number.c.res_pk.in_(selected)]
    rows = [("all", *(await store.conn.execute(sa.select(*counted).where(*where))).one())]
    if tags is not None:
        tag = idx_token.alias("tag")
        query = (
            sa.select(tag.c.code, *counted)
            .join(tag, tag.c.res_pk == idx_number.c.res_pk)
            .where(*where, tag.c.sp == sp_hash(resource_type, "_tag"), tag.c.system == tags[0], tag.c.code.in_(tags[1]))
            .group_by(tag.c.code)
        )
        rows.extend(await store.conn.execute(query))
    return {key: dict(zip(scores, ns, strict=True)) for key, *ns in rows}
