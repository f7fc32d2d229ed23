"""Process a stored EHR notification (the ``ehr-notification`` job): mirror what it tells, once, in order.

Backport events are handled in ``eventsSinceSubscriptionStart`` order under a lock on the subscription's
state row; an event number seen before is dropped; a hole below the first new number queues a gap fill.
The focus is fetched from the EHR when only its id came (or nothing: an empty R4 ping resyncs the watched
type from its cursor). Mirroring writes through ``open_store``, so domain events follow from the store's
listeners. A down EHR becomes ``RetryLater``: the whole job rolls back and runs again.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.config import Settings
from fhircrm.ehr.client import EhrClient
from fhircrm.ehr.errors import EhrUnavailable
from fhircrm.ehr.mirror import MIRRORED_TYPES, forget, mirror
from fhircrm.ehr.polling import sync_type
from fhircrm.fhir.search.dates import format_instant
from fhircrm.jobs import Job, enqueue
from fhircrm.jobs.queue import utcnow
from fhircrm.jobs.registry import RetryLater
from fhircrm.stores import open_store
from fhircrm.subscriptions import listener_state
from fhircrm.subscriptions.backport import Event, Notification, parse_notification
from fhircrm.subscriptions.templates import by_name

GAP_JOB = "ehr-gap-fill"
GAP_GRACE_SECONDS = 2.0  # a late notification may still fill the hole on its own


def split_reference(reference: str, ehr_base: str) -> tuple[str, str] | None:
    """``Type/id`` of a (possibly absolute, possibly versioned) reference to the EHR."""
    ref = reference.removeprefix(ehr_base.rstrip("/") + "/").split("/_history/")[0]
    parts = ref.split("/")
    return (parts[-2], parts[-1]) if len(parts) >= 2 else None


class Processor:
    def __init__(self, conn: AsyncConnection, client: EhrClient, settings: Settings):
        self.conn = conn
        self.client = client
        self.settings = settings
        self.store = open_store(conn, settings)

    async def mirror(self, resource: dict) -> None:
        await mirror(self.store, resource, ehr_base=self.client.base_url, system=self.settings.ehr_identifier_system)

    async def fetch_and_mirror(self, reference: str) -> None:
        key = split_reference(reference, self.client.base_url)
        if key is None or key[0] not in MIRRORED_TYPES:
            return
        found = await self.client.read(*key)
        if found is None:
            await forget(self.store, *key)
        else:
            await self.mirror(found)

    async def event(self, event: Event, resources: list[dict]) -> None:
        if not event.focus:
            return
        key = split_reference(event.focus, self.client.base_url)
        included = next((r for r in resources if key and (r.get("resourceType"), r.get("id")) == key), None)
        if included is not None:
            await self.mirror(included)
        else:
            await self.fetch_and_mirror(event.focus)

    async def rest_hook(self, name: str, body: object, path_focus: str | None) -> None:
        if isinstance(body, dict) and body.get("resourceType") == "Bundle":
            for entry in body.get("entry", []):
                await self.mirror(entry["resource"])
        elif isinstance(body, dict):
            await self.mirror(body)
        elif path_focus:
            await self.fetch_and_mirror(path_focus)
        else:  # an empty ping: what changed is for us to find out
            template = by_name(self.settings, name)
            for resource_type in [template.resource_type] if template else MIRRORED_TYPES:
                await sync_type(self.conn, self.client, self.settings, resource_type)

    async def backport(self, name: str, note: Notification) -> None:
        state = await listener_state.load(self.conn, name)
        state.ehr_subscription = note.subscription or state.ehr_subscription
        state.last_status = note.status or state.last_status
        previous_received = state.last_received_at
        state.last_received_at = utcnow()
        if note.type == "handshake":
            state.last_event = max(state.last_event, note.events_since_start or 0)
        elif note.type in ("heartbeat", "query-status"):
            if note.events_since_start and note.events_since_start > state.last_event:
                await self.queue_gap(name, state.last_event + 1, note.events_since_start, previous_received)
        else:
            events = sorted((e for e in note.events if e.number is not None), key=lambda e: e.number or 0)
            if events and events[0].number and events[0].number > state.last_event + 1:
                await self.queue_gap(name, state.last_event + 1, events[0].number - 1, previous_received)
            for event in events:
                if await listener_state.mark_processed(self.conn, name, event.number or 0):
                    await self.event(event, note.resources)
            if events:
                state.last_event = max(state.last_event, events[-1].number or 0)
        await listener_state.save(self.conn, state)

    async def queue_gap(self, name: str, low: int, high: int, since: object) -> None:
        moment = since if since is not None else utcnow() - timedelta(hours=1)
        payload = {"name": name, "low": low, "high": high, "since": format_instant(moment - timedelta(minutes=1))}
        await enqueue(
            self.conn,
            GAP_JOB,
            payload,
            dedupe_key=f"ehr-gap:{name}:{low}-{high}",
            run_at=utcnow() + timedelta(seconds=GAP_GRACE_SECONDS),
        )


async def process_notification(conn: AsyncConnection, job: Job, *, client: EhrClient, settings: Settings) -> None:
    payload = job.payload
    processor = Processor(conn, client, settings)
    try:
        if payload["format"] == "backport":
            note = parse_notification(payload["body"])
            if note is not None:
                await processor.backport(payload["name"], note)
        else:
            await processor.rest_hook(payload["name"], payload.get("body"), payload.get("path_focus"))
    except EhrUnavailable as exc:
        raise RetryLater(str(exc), seconds=exc.retry_after) from None
