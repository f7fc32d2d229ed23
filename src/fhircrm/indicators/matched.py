"""Indicator populations as SQL: the FHIR search an indicator means, selected through the store's read side
(``FhirStore.select``: it means exactly what that search means, on PostgreSQL and SQLite, within the caller's
access), then counted in one query.

One ``_summary=count`` search per status, or paging whole resources into Python to read two fields, is what
made an indicator take seconds over a 100k-patient clinic; here each indicator is one or two queries and reads
only the elements it needs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

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


#: answers kept while ``shared()`` is open: indicators over the same slice share one count
_shared: ContextVar[dict[tuple, Any] | None] = ContextVar("indicator_counts", default=None)


@contextmanager
def shared() -> Iterator[None]:
    """Within this block, equal questions are asked of the database once (``compute_all``: the appointment
    measures of one slice read the same cells)."""
    token = _shared.set({})
    try:
        yield
    finally:
        _shared.reset(token)


def memo() -> dict[tuple, Any] | None:
    """The answers kept by the open ``shared()`` block (None outside one)."""
    return _shared.get()


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
