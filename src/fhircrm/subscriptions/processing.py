"""Process a stored EHR notification (the ``ehr-notification`` job): mirror what it tells, once, in order.

Backport events are handled in ``eventsSinceSubscriptionStart`` order under a lock on the subscription's state
row, whose ``last_event`` is a high-water mark (every number up to it is done): a number at or below it is a
duplicate and dropped. Events above a hole wait (as a fresh job, a quarter second at a time) for the late ones
for ``ehr_gap_grace_seconds`` after their receipt; then the hole is filled first (``gaps.fill``) and they follow,
so processing stays in order. A heartbeat or ``query-status`` ahead of the mark queues a gap fill.
Numbers at or below the mark in a notification we never had (another SubscriptionStatus id), or a handshake
counting fewer events than we processed, mean the EHR's counter started again (HAPI keeps it in memory, so a
restart does it): the old numbers are forgotten and the watched type resynced, instead of dropping new events.
The focus is fetched from the EHR when only its id came (or nothing: an empty R4 ping resyncs the watched
type from its cursor). Mirroring writes through ``open_store``, so domain events follow from the store's
listeners. A down EHR becomes ``RetryLater``: the whole job rolls back and runs again.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.config import Settings
from fhircrm.ehr.client import EhrClient
from fhircrm.ehr.errors import EhrUnavailable
from fhircrm.ehr.mirror import MIRRORED_TYPES, forget, mirror
from fhircrm.ehr.polling import sync_type
from fhircrm.fhir.access import ServiceScope
from fhircrm.fhir.references import target
from fhircrm.fhir.search.dates import format_instant
from fhircrm.jobs import Job, enqueue
from fhircrm.jobs.queue import utcnow
from fhircrm.jobs.registry import RetryLater
from fhircrm.stores import open_store
from fhircrm.subscriptions import listener_state
from fhircrm.subscriptions.backport import Event, Notification, parse_notification
from fhircrm.subscriptions.gaps import fill
from fhircrm.subscriptions.inbound import NOTIFICATION_JOB
from fhircrm.subscriptions.templates import by_name

log = logging.getLogger(__name__)
GAP_JOB = "ehr-gap-fill"
WAIT_STEP_SECONDS = 0.25  # how often events waiting above a hole look again
RESYNC_SLACK = timedelta(minutes=5)  # clock skew between the EHR and us, on ``_lastUpdated`` resyncs


class Processor:
    def __init__(self, conn: AsyncConnection, client: EhrClient, settings: Settings):
        self.conn = conn
        self.client = client
        self.settings = settings
        self.store = open_store(conn, settings, policy=ServiceScope("subscriptions"))

    async def mirror(self, resource: dict) -> None:
        await mirror(self.store, resource, ehr_base=self.client.base_url, system=self.settings.ehr_identifier_system)

    async def fetch_and_mirror(self, reference: str) -> None:
        key = target(reference, self.client.base_url)
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
        key = target(event.focus, self.client.base_url)
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

    async def backport(self, name: str, note: Notification, *, received_at: datetime) -> None:
        """Handle one backport notification; ``WaitForEarlier`` while a fresh hole may still fill on its own."""
        state = await listener_state.load(self.conn, name)
        if note.subscription and _replaced(state.ehr_subscription, note.subscription, self.client.base_url):
            await listener_state.forget_numbers(self.conn, name)  # a new Subscription counts from 1 again
            state.last_event = 0
        state.ehr_subscription = note.subscription or state.ehr_subscription
        state.last_status = note.status or state.last_status
        since = _resync_since(state.last_received_at)
        if note.type == "handshake":
            if note.events_since_start is not None and note.events_since_start < state.last_event:
                await self.restarted(name, state, since)  # a handshake counting less than we processed
            state.last_event = max(state.last_event, note.events_since_start or 0)
        elif note.type in ("heartbeat", "query-status"):
            if note.events_since_start and note.events_since_start > state.last_event:
                await self.queue_gap(name, note.events_since_start, since)
        else:
            await self._events(name, note, state, since, received_at)
        state.last_received_at = utcnow()
        await listener_state.save(self.conn, state)

    async def _events(
        self, name: str, note: Notification, state: listener_state.State, since: str, received_at: datetime
    ) -> None:
        """New events in number order; a hole below them is waited for a moment, then filled first."""
        fresh = _above(note, state.last_event)
        if not fresh and await self._counter_restarted(name, note):
            await self.restarted(name, state, since)
            fresh = _above(note, state.last_event)
        if not fresh:
            return  # every event was processed before: a duplicate
        top = max(fresh)
        missing = [n for n in range(state.last_event + 1, top) if n not in fresh]
        if missing:
            missing = sorted(set(missing) - await listener_state.processed(self.conn, name, missing[0], missing[-1]))
        if missing:
            grace = timedelta(seconds=self.settings.ehr_gap_grace_seconds)
            if utcnow() < received_at + grace:
                await listener_state.save(self.conn, state)
                raise WaitForEarlier(received_at + grace)
            await fill(self, name, missing, ehr_subscription=state.ehr_subscription, since=since)
            for number in missing:
                await listener_state.mark_processed(self.conn, name, number)
        for number in sorted(fresh):
            if await listener_state.mark_processed(self.conn, name, number, note.status_id):
                await self.event(fresh[number], note.resources)
        state.last_event = top

    async def _counter_restarted(self, name: str, note: Notification) -> bool:
        """Numbers we processed, in a notification we never had: the EHR counts from 1 again (HAPI keeps its
        counters in memory, so every restart does this). A repeat of a notification carries the same id."""
        numbers = [e.number for e in note.events if e.number is not None]
        if not note.status_id or not numbers:
            return False
        known = await listener_state.status_ids(self.conn, name, numbers)
        return bool(known) and all(sent is not None and sent != note.status_id for sent in known.values())

    async def restarted(self, name: str, state: listener_state.State, since: str) -> None:
        """Resynchronise after the EHR's numbering started again: forget the old numbers (the new ones are new
        events, not repeats) and resync the watched type from before the last notification we had, for what
        the EHR may have lost while it restarted. Mirroring writes each EHR version once, so nothing doubles."""
        log.warning("EHR subscription %s: event numbers started again (EHR restart); resynchronising", name)
        await listener_state.forget_numbers(self.conn, name)
        state.last_event = 0
        template = by_name(self.settings, name)
        for resource_type in [template.resource_type] if template else MIRRORED_TYPES:
            await sync_type(self.conn, self.client, self.settings, resource_type, since=since)

    async def queue_gap(self, name: str, high: int, since: str) -> None:
        """A heartbeat says more happened than we heard of: fill the hole after the grace period."""
        payload = {"name": name, "high": high, "since": since}
        await enqueue(
            self.conn,
            GAP_JOB,
            payload,
            dedupe_key=f"ehr-gap:{name}:{high}",
            run_at=utcnow() + timedelta(seconds=self.settings.ehr_gap_grace_seconds),
        )


class WaitForEarlier(Exception):
    """Events arrived above a hole that is younger than the grace period: process them after the late ones."""

    def __init__(self, until: datetime):
        super().__init__("waiting for earlier events")
        self.until = until


def _above(note: Notification, last_event: int) -> dict[int, Event]:
    fresh: dict[int, Event] = {}
    for event in note.events:
        if event.number is not None and event.number > last_event:
            fresh.setdefault(event.number, event)
    return fresh


def _replaced(known: str | None, incoming: str, ehr_base: str) -> bool:
    return bool(known) and target(known or "", ehr_base) != target(incoming, ehr_base)


def _resync_since(last_received: datetime | None) -> str:
    """Where a resync starts: before the last notification we had, with room for clock skew."""
    moment = last_received if last_received is not None else utcnow() - timedelta(hours=1)
    return format_instant(moment - RESYNC_SLACK)


def _received(payload: dict) -> datetime:
    try:
        return datetime.fromisoformat(str(payload["received_at"])).astimezone(UTC).replace(tzinfo=None)
    except (KeyError, ValueError):
        return utcnow()


async def fill_gap(conn: AsyncConnection, job: Job, *, client: EhrClient, settings: Settings) -> None:
    """The ``ehr-gap-fill`` job: numbers processed meanwhile are not missing any more; the rest are filled."""
    name, high = job.payload["name"], int(job.payload["high"])
    processor = Processor(conn, client, settings)
    state = await listener_state.load(conn, name)
    if state.last_event >= high:
        return
    low = state.last_event + 1
    missing = sorted(set(range(low, high + 1)) - await listener_state.processed(conn, name, low, high))
    try:
        if missing:
            await fill(processor, name, missing, ehr_subscription=state.ehr_subscription, since=job.payload["since"])
    except EhrUnavailable as exc:
        raise RetryLater(str(exc), seconds=exc.retry_after) from None
    for number in missing:
        await listener_state.mark_processed(conn, name, number)
    state.last_event = high
    await listener_state.save(conn, state)


async def process_notification(conn: AsyncConnection, job: Job, *, client: EhrClient, settings: Settings) -> None:
    payload = job.payload
    processor = Processor(conn, client, settings)
    try:
        if payload["format"] == "backport":
            note = parse_notification(payload["body"])
            if note is not None:
                await processor.backport(payload["name"], note, received_at=_received(payload))
        else:
            await processor.rest_hook(payload["name"], payload.get("body"), payload.get("path_focus"))
    except EhrUnavailable as exc:
        raise RetryLater(str(exc), seconds=exc.retry_after) from None
    except WaitForEarlier as wait:
        # Done for now, and due again shortly as a new job: waiting uses no retry attempts.
        run_at = min(wait.until, utcnow() + timedelta(seconds=WAIT_STEP_SECONDS))
        await enqueue(conn, NOTIFICATION_JOB, payload, run_at=run_at)
