"""The polling fallback, for EHRs without subscriptions (and gap filling): a resumable ``_lastUpdated`` sync.

Each resource type has a cursor (the newest EHR ``lastUpdated`` mirrored). A run asks for ``_lastUpdated=ge``
the cursor, mirrors what it gets (the same version twice writes nothing) and advances the cursor in the same
transaction as the mirrored writes, so a crash repeats at most one page and skips nothing.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.config import Settings
from fhircrm.ehr.client import EhrClient
from fhircrm.ehr.cursors import get_cursor, set_cursor
from fhircrm.ehr.errors import EhrUnavailable
from fhircrm.ehr.mirror import MIRRORED_TYPES, mirror
from fhircrm.stores import open_store

log = logging.getLogger(__name__)
PAGE = 100


async def sync_type(
    conn: AsyncConnection, client: EhrClient, settings: Settings, resource_type: str, *, since: str | None = None
) -> int:
    """Mirror what changed on the EHR since the cursor (or ``since``); returns how many resources were written."""
    name = f"poll:{resource_type}"
    cursor = since or await get_cursor(conn, name)
    params = [("_sort", "_lastUpdated"), ("_count", str(PAGE))]
    if cursor:
        params.append(("_lastUpdated", f"ge{cursor}"))
    found = await client.search(resource_type, params)
    store = open_store(conn, settings)
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
    return written


async def poll_all(conn: AsyncConnection, client: EhrClient, settings: Settings) -> int:
    total = 0
    for resource_type in MIRRORED_TYPES:
        try:
            total += await sync_type(conn, client, settings, resource_type)
        except EhrUnavailable as exc:
            log.warning("EHR poll stopped at %s: %s", resource_type, exc)
            break
    return total
