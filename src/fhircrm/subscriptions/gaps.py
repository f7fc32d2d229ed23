"""Fill a hole in a subscription's event numbers (the ``ehr-gap-fill`` job).

Numbers that arrived meanwhile are not missing any more. For the rest: ``$events`` on the EHR's Subscription
where the EHR offers it (the events come back as a notification bundle and are processed as one), otherwise a
``_lastUpdated`` resync of the watched resource type since shortly before the last event we had.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.config import Settings
from fhircrm.ehr.client import EhrClient
from fhircrm.ehr.errors import EhrError, EhrUnavailable
from fhircrm.ehr.mirror import MIRRORED_TYPES
from fhircrm.ehr.polling import sync_type
from fhircrm.jobs import Job
from fhircrm.jobs.registry import RetryLater
from fhircrm.subscriptions import listener_state
from fhircrm.subscriptions.backport import parse_notification
from fhircrm.subscriptions.processing import Processor, split_reference
from fhircrm.subscriptions.templates import by_name

log = logging.getLogger(__name__)


async def fill_gap(conn: AsyncConnection, job: Job, *, client: EhrClient, settings: Settings) -> None:
    name, low, high = job.payload["name"], int(job.payload["low"]), int(job.payload["high"])
    missing = sorted(set(range(low, high + 1)) - await listener_state.processed(conn, name, low, high))
    if not missing:
        return
    processor = Processor(conn, client, settings)
    try:
        if not await _from_events(processor, conn, name, missing):
            template = by_name(settings, name)
            for resource_type in [template.resource_type] if template else MIRRORED_TYPES:
                await sync_type(conn, client, settings, resource_type, since=job.payload["since"])
    except EhrUnavailable as exc:
        raise RetryLater(str(exc), seconds=exc.retry_after) from None
    for number in missing:
        await listener_state.mark_processed(conn, name, number)
    log.info("filled a gap of %d event(s) in EHR subscription %s", len(missing), name)


async def _from_events(processor: Processor, conn: AsyncConnection, name: str, missing: list[int]) -> bool:
    state = await listener_state.load(conn, name)
    if not state.ehr_subscription:
        return False
    key = split_reference(state.ehr_subscription, processor.client.base_url)
    if key is None:
        return False
    params = [("eventsSinceNumber", str(missing[0])), ("eventsUntilNumber", str(missing[-1]))]
    try:
        bundle = await processor.client.get(f"Subscription/{key[1]}/$events", params)
    except EhrUnavailable:
        raise
    except EhrError:
        return False  # not offered: resync instead
    note = parse_notification(bundle) if isinstance(bundle, dict) else None
    if note is None:
        return False
    for event in note.events:
        if event.number in missing:
            await processor.event(event, note.resources)
    return True
