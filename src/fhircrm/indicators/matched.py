"""Indicator populations as SQL: the FHIR search an indicator means, selected through the store's read side
(``FhirStore.select``: it means exactly what that search means, on PostgreSQL and SQLite, within the caller's
access), then counted per status or read element by element in one query.

One ``_summary=count`` search per status, or paging whole resources into Python to read two fields, is what
made an indicator take seconds over a 100k-patient clinic; here each indicator is one or two queries and reads
only the elements it needs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

from fhircrm.fhir.selections import Selection
from fhircrm.fhir.store import FhirStore
from fhircrm.indicators.counting import Members, members_param


def matched(
    store: FhirStore,
    resource_type: str,
    params: list[tuple[str, str]],
    *,
    segment: Members = None,
    patient_param: str = "patient",
) -> Selection:
    """The live matches, restricted as the caller's own search would be (the store's read side)."""
    return store.select(resource_type, [*params, *members_param(segment, patient_param)])


async def count(store: FhirStore, resource_type: str, params: list[tuple[str, str]], **kw: object) -> int:
    """The ``_summary=count`` total of the search, without a SearchResult around it."""
    return await matched(store, resource_type, params, **kw).count()  # type: ignore[arg-type]


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
    return await selected.count_codes("status", codes)


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
    return await selected.elements(paths, codes=None if status is None else ("status", status))


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
    return await matched(store, resource_type, params, segment=segment).number_counts("score", scores, tags=tags)
