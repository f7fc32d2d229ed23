"""Bundles fhircrm answers with: searchset and history, with their paging links."""

from __future__ import annotations

from urllib.parse import urlencode

from fhircrm.fhir.search.dates import format_instant
from fhircrm.fhir.sql.reader import HistoryEntry
from fhircrm.fhir.store import SearchResult
from fhircrm.fhir.summary import shape


def _url(base: str, path: str, pairs: list[tuple[str, str]]) -> str:
    query = urlencode(pairs)
    return f"{base}/{path}" + (f"?{query}" if query else "")


def paging_links(
    base: str, path: str, pairs: list[tuple[str, str]], *, offset: int, count: int, has_next: bool
) -> list[dict]:
    """``self``, ``first``, ``previous`` and ``next``: the same query at another ``_offset``, so paging is
    stable (results are ordered with ``resource.id`` as the last key)."""
    with_count = [p for p in pairs if p[0] != "_count"] + [("_count", str(count))]
    links = [{"relation": "self", "url": _url(base, path, pairs + ([("_offset", str(offset))] if offset else []))}]
    links.append({"relation": "first", "url": _url(base, path, with_count)})
    if offset > 0:
        previous = max(offset - count, 0)
        links.append(
            {
                "relation": "previous",
                "url": _url(base, path, with_count + ([("_offset", str(previous))] if previous else [])),
            }
        )
    if has_next:
        links.append({"relation": "next", "url": _url(base, path, [*with_count, ("_offset", str(offset + count))])})
    return links


def searchset(result: SearchResult, *, base: str, path: str) -> dict:
    query = result.query
    bundle: dict = {"resourceType": "Bundle", "type": "searchset"}
    if result.total is not None:
        bundle["total"] = result.total
    if query.summary == "count":
        bundle["link"] = [{"relation": "self", "url": _url(base, path, query.used)}]
        return bundle
    bundle["link"] = paging_links(
        base, path, query.used, offset=query.offset, count=result.count, has_next=result.has_next
    )
    entries = [
        {
            "fullUrl": f"{base}/{r['resourceType']}/{r['id']}",
            "resource": shape(r, summary=query.summary, elements=query.elements),
            "search": {"mode": "match"},
        }
        for r in result.matches
    ]
    entries += [
        {
            "fullUrl": f"{base}/{r['resourceType']}/{r['id']}",
            "resource": shape(r, summary=query.summary, elements=query.elements),
            "search": {"mode": "include"},
        }
        for r in result.included
    ]
    bundle["entry"] = entries
    return bundle


def history_bundle(
    entries: list[HistoryEntry],
    *,
    base: str,
    path: str,
    pairs: list[tuple[str, str]],
    offset: int,
    count: int,
    has_next: bool,
) -> dict:
    out = []
    for e in entries:
        url = f"{e.res_type}/{e.fhir_id}"
        item: dict = {"fullUrl": f"{base}/{url}"}
        if e.content is not None:
            item["resource"] = e.content
        item["request"] = {
            "method": e.method if e.method != "PATCH" else "PATCH",
            "url": e.res_type if e.method == "POST" else url,
        }
        item["response"] = {
            "status": {"POST": "201 Created", "DELETE": "204 No Content"}.get(e.method, "200 OK"),
            "etag": f'W/"{e.version}"',
            "lastModified": format_instant(e.last_updated),
        }
        out.append(item)
    return {
        "resourceType": "Bundle",
        "type": "history",
        "link": paging_links(base, path, pairs, offset=offset, count=count, has_next=has_next),
        "entry": out,
    }
