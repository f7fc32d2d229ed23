"""Every match of a search, page by page: for the services that need all of them (screens that list, indicator
values counts cannot give, training sets, role lookups), through the store so access rules and audit apply."""

from __future__ import annotations

from fhircrm.fhir.store import FhirStore

PAGE = 1000


async def every_match(
    store: FhirStore,
    resource_type: str,
    params: list[tuple[str, str]],
    *,
    limit: int | None = None,
    page: int = PAGE,
) -> list[dict]:
    """The matches of ``params`` (paged by ``_offset``), at most ``limit`` of them when given."""
    found: list[dict] = []
    while limit is None or len(found) < limit:
        result = await store.search(resource_type, [*params, ("_count", str(page)), ("_offset", str(len(found)))])
        found.extend(result.matches)
        if not result.has_next or not result.matches:
            break
    return found if limit is None else found[:limit]
