"""Fill a hole in a subscription's event numbers: the events we never received, found again at the EHR.

``$events`` on the EHR's Subscription where the EHR offers it (the events come back as a notification bundle and
are processed as one), otherwise a ``_lastUpdated`` resync of the watched resource type since shortly before the
last notification we had. Either way the mirror writes each EHR version at most once, so a change that also
arrives later (or was resynced too) reaches the store, and the domain events, exactly once.
"""

from __future__ import annotations

import logging
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.config import Settings
from fhircrm.ehr.client import EhrClient
from fhircrm.ehr.errors import EhrError, EhrUnavailable
from fhircrm.ehr.mirror import MIRRORED_TYPES
from fhircrm.ehr.polling import sync_type
from fhircrm.fhir.references import target
from fhircrm.subscriptions.backport import Event, parse_notification
from fhircrm.subscriptions.templates import by_name

log = logging.getLogger(__name__)


class Processor(Protocol):
    """What filling a gap needs of the notification processor (``fhircrm.subscriptions.processing``)."""

    conn: AsyncConnection
    client: EhrClient
    settings: Settings

    async def event(self, event: Event, resources: list[dict]) -> None: ...


async def fill(processor: Processor, name: str, missing: list[int], *, ehr_subscription: str | None, since: str) -> str:
    """Bring in the changes behind event numbers ``missing``; returns how (``$events`` or ``resync``)."""
    if await _from_events(processor, missing, ehr_subscription):
        how = "$events"
    else:
        template = by_name(processor.settings, name)
        for resource_type in [template.resource_type] if template else MIRRORED_TYPES:
            await sync_type(processor.conn, processor.client, processor.settings, resource_type, since=since)
        how = "resync"
    log.info("filled a gap of %d event(s) in EHR subscription %s by %s", len(missing), name, how)
    return how


async def _from_events(processor: Processor, missing: list[int], ehr_subscription: str | None) -> bool:
    key = target(ehr_subscription, processor.client.base_url) if ehr_subscription else None
    if key is None:
        return False
    params = [("eventsSinceNumber", str(missing[0])), ("eventsUntilNumber", str(missing[-1]))]
    try:
        bundle = await processor.client.get(f"Subscription/{key[1]}/$events", params)
    except EhrUnavailable:
        raise
    except EhrError:
        return False  # not offered (400, 405, 501 ...): resync instead
    note = parse_notification(bundle) if isinstance(bundle, dict) else None
    if note is None:  # 404 (no such operation) or not a notification bundle
        return False
    wanted = set(missing)
    for event in sorted(note.events, key=lambda e: e.number or 0):
        if event.number in wanted:
            await processor.event(event, note.resources)
    return True
