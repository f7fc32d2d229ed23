"""The polling fallback, for EHRs without subscriptions (and gap filling): a resumable ``_lastUpdated`` sync.

Each resource type has a cursor (the newest EHR ``lastUpdated`` mirrored). A run asks for ``_lastUpdated=ge``
the cursor, mirrors what it gets (the same version twice writes nothing) and advances the cursor in the same
transaction as the mirrored writes, so a crash repeats at most one page and skips nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.config import Settings
from fhircrm.ehr.client import EhrClient
from fhircrm.ehr.cursors import get_cursor, set_cursor
from fhircrm.ehr.errors import EhrError, EhrUnavailable
from fhircrm.ehr.mirror import MIRRORED_TYPES, forget, mirror
from fhircrm.errors import Gone, NotFound
from fhircrm.fhir.access import ServiceScope
from fhircrm.stores import open_store

log = logging.getLogger(__name__)
PAGE = 100


@dataclass(frozen=True, slots=True)
class Synced:
    fetched: int  # resources the EHR returned (the ones at the cursor's instant come again)
    written: int  # new versions mirrored


async def sync_type(
    conn: AsyncConnection, client: EhrClient, settings: Settings, resource_type: str, *, since: str | None = None
) -> Synced:
    """Mirror what changed on the EHR since the cursor (or ``since``, which leaves the cursor alone)."""
    name = f"poll:{resource_type}"
    cursor = since or await get_cursor(conn, name)
    params = [("_sort", "_lastUpdated"), ("_count", str(PAGE))]
    if cursor:
        params.append(("_lastUpdated", f"ge{cursor}"))
    found = await client.search(resource_type, params)
    store = open_store(conn, settings, policy=ServiceScope("ehr-sync"))
    written = 0
    newest = cursor
    for resource in found:
        result = await mirror(store, resource, ehr_base=client.base_url, system=settings.ehr_identifier_system)
        written += result.written
        updated = (resource.get("meta") or {}).get("lastUpdated")
        if updated and (newest is None or updated > newest):
            newest = updated
    if newest and since is None:
        await set_cursor(conn, name, newest)
    return Synced(len(found), written)


async def poll_all(conn: AsyncConnection, client: EhrClient, settings: Settings) -> int:
    """One polling round over every mirrored type; returns how many versions were written.

    A down EHR ends the round (what was mirrored so far commits with its cursors; the rest waits for the next
    round); a type the EHR refuses to search is skipped, so it cannot hold back the others.
    """
    total = 0
    for resource_type in MIRRORED_TYPES:
        try:
            total += (await sync_type(conn, client, settings, resource_type)).written
        except EhrUnavailable as exc:
            log.warning("EHR poll stopped at %s: %s", resource_type, exc)
            break
        except EhrError as exc:
            log.warning("EHR poll skipped %s: %s", resource_type, exc)
    return total


async def sweep_deletes(conn: AsyncConnection, client: EhrClient, settings: Settings, resource_type: str) -> int:
    """Deletes no notification brought: the EHR's ``{type}/_history`` since the last sweep, each deleted entry
    removed from our copy. Returns how many local copies went.

    HAPI notifies a delete only to Subscriptions that ask for it and whose criteria the deleted version matched;
    the rest shows only in the history. The cursor is the newest ``lastModified`` seen (the next sweep asks from
    there again, so an entry at that instant is seen twice: removing a removed copy changes nothing).
    """
    name = f"history:{resource_type}"
    cursor = await get_cursor(conn, name)
    params = [("_count", str(PAGE))]
    if cursor:
        params.append(("_since", cursor))
    bundle = await client.get(f"{resource_type}/_history", params) or {}
    store = open_store(conn, settings, policy=ServiceScope("ehr-sync"))
    removed = 0
    newest = cursor
    for entry in bundle.get("entry") or []:
        request = entry.get("request") or {}
        response = entry.get("response") or {}
        stamp = response.get("lastModified") or ((entry.get("resource") or {}).get("meta") or {}).get("lastUpdated")
        if stamp and (newest is None or stamp > newest):
            newest = stamp
        if request.get("method") != "DELETE":
            continue
        parts = (request.get("url") or "").split("/")
        if len(parts) < 2 or parts[0] != resource_type:
            continue
        if await _has_local_copy(store, resource_type, parts[1]) and await forget(store, resource_type, parts[1]):
            removed += 1
    if newest:
        await set_cursor(conn, name, newest)
    return removed


async def _has_local_copy(store: object, resource_type: str, fhir_id: str) -> bool:
    try:
        await store.read(resource_type, fhir_id)  # type: ignore[attr-defined]
    except (NotFound, Gone):
        return False
    return True
