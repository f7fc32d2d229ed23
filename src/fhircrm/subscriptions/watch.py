"""Nothing lost silently: what each of our EHR Subscriptions should do, whether it does, and polling for the rest.

``subscriptions register`` records a row per event (``ehr_subscription_watch``): the kind it got (topic-based,
criteria, or polling when the EHR would take neither), the search that finds what it should notify, and the
heartbeat it promised. The listener touches the row on every notification (``heard``): a handshake proves a
topic Subscription, anything else shows it alive. The watch (a periodic job, ``run``) flags a Subscription
whose handshake or heartbeat is overdue, or that stays silent while the EHR has changes it should have sent:
the flag shows in ``subscriptions status`` and as a Task for IT, and polling covers its resource type until a
notification arrives after the flag, which clears it. It also sweeps the EHR's ``_history`` for deletes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.config import Settings
from fhircrm.ehr.client import EhrClient
from fhircrm.ehr.cursors import get_cursor, set_cursor
from fhircrm.ehr.errors import EhrError, EhrUnavailable
from fhircrm.ehr.polling import sweep_deletes, sync_type
from fhircrm.fhir.access import ServiceScope
from fhircrm.fhir.search.dates import format_instant
from fhircrm.jobs.queue import utcnow
from fhircrm.stores import open_store
from fhircrm.subscriptions.backport import parse_notification
from fhircrm.subscriptions.tables import ehr_subscription_watch as t

log = logging.getLogger(__name__)
TASK_KIND = ("https://fhircrm.dev/CodeSystem/task-kind", "ehr-subscription")
WATCH_IDENTIFIER = "https://fhircrm.dev/ehr-subscription-watch"
SCOPE = ServiceScope("ehr-watch")


@dataclass(frozen=True, slots=True)
class Planned:
    """One event's registration, as ``subscriptions register`` leaves it."""

    name: str
    event: str
    kind: str  # topic-based | criteria | polling
    resource_type: str
    criteria: str | None
    ehr_subscription: str | None
    heartbeat_seconds: int | None = None


def event_of(name: str) -> str:
    """``criteria-appointment-booked`` -> ``appointment-booked`` (the same for topic- and polling-)."""
    return name.split("-", 1)[1] if "-" in name else name


async def plan(conn: AsyncConnection, planned: list[Planned]) -> None:
    """Record what registration left for each event: one row per event, the other kinds' rows go."""
    events = {p.event for p in planned}
    keep = {p.name for p in planned}
    await conn.execute(sa.delete(t).where(t.c.event.in_(events), t.c.name.not_in(keep)))
    now = utcnow()
    for p in planned:
        values = {
            "event": p.event,
            "kind": p.kind,
            "resource_type": p.resource_type,
            "criteria": p.criteria,
            "heartbeat_seconds": p.heartbeat_seconds,
        }
        row = (await conn.execute(sa.select(t).where(t.c.name == p.name))).first()
        if row is None:
            await conn.execute(
                sa.insert(t).values(name=p.name, registered_at=now, ehr_subscription=p.ehr_subscription, **values)
            )
        elif row.ehr_subscription != p.ehr_subscription and not _same_id(row.ehr_subscription, p.ehr_subscription):
            # another Subscription at the EHR: what we knew of the old one no longer says anything
            await conn.execute(
                sa.update(t)
                .where(t.c.name == p.name)
                .values(registered_at=now, ehr_subscription=p.ehr_subscription, handshake_at=None, **values)
            )
        else:
            await conn.execute(sa.update(t).where(t.c.name == p.name).values(**values))


def _same_id(a: str | None, b: str | None) -> bool:
    return bool(a and b) and a.rstrip("/").rsplit("/", 1)[-1] == b.rstrip("/").rsplit("/", 1)[-1]  # type: ignore[union-attr]


async def heard(conn: AsyncConnection, name: str, body: object) -> None:
    """The listener got a notification for ``name``: it is alive; a handshake proves it (and names it)."""
    now = utcnow()
    values: dict = {"last_heard_at": now}
    note = parse_notification(body) if isinstance(body, dict) else None
    if note is not None and note.type == "handshake":
        values["handshake_at"] = now
        if note.subscription:
            values["ehr_subscription"] = note.subscription
    updated = await conn.execute(sa.update(t).where(t.c.name == name).values(**values))
    if updated.rowcount == 0:  # a handshake can come before registration has written its row
        kind = "topic-based" if name.startswith("topic-") else "criteria"
        await conn.execute(
            sa.insert(t).values(
                name=name, event=event_of(name), kind=kind, resource_type="", registered_at=now, **values
            )
        )


async def forget(conn: AsyncConnection, names: list[str]) -> None:
    """Deleted from the EHR: nothing to watch any more."""
    await conn.execute(sa.delete(t).where(t.c.name.in_(names)))


async def rows(conn: AsyncConnection) -> list[sa.Row]:
    return list(await conn.execute(sa.select(t).order_by(t.c.name)))


async def proven(conn: AsyncConnection, name: str, ehr_id: str) -> bool:
    """Whether a handshake for the EHR's Subscription ``ehr_id`` reached the listener."""
    row = (await conn.execute(sa.select(t.c.handshake_at, t.c.ehr_subscription).where(t.c.name == name))).first()
    return bool(row and row.handshake_at and _same_id(row.ehr_subscription, ehr_id))


# --- the periodic watch ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Report:
    flagged: list[str]
    cleared: list[str]
    polled: list[str]  # resource types polled to cover a gap
    deletes: int  # local copies removed by the _history sweep


def _reason(row: sa.Row, now: datetime, settings: Settings) -> str | None:
    overdue = now - row.registered_at > timedelta(seconds=settings.ehr_handshake_seconds)
    if row.kind == "topic-based" and row.handshake_at is None and row.last_heard_at is None and overdue:
        return f"no handshake since it was registered ({format_instant(row.registered_at)})"
    if row.heartbeat_seconds:
        last = row.last_heard_at or row.handshake_at or row.registered_at
        allowed = timedelta(seconds=2 * row.heartbeat_seconds + settings.ehr_silence_grace_seconds)
        if now - last > allowed:
            return f"heartbeat overdue: expected every {row.heartbeat_seconds}s, last heard {format_instant(last)}"
    return None


async def _silent(client: EhrClient, row: sa.Row, now: datetime, settings: Settings) -> str | None:
    """Changes the EHR made that this Subscription should have notified, older than the grace, unheard of."""
    if not row.criteria or not row.resource_type:
        return None
    since = max(filter(None, [row.last_heard_at, row.registered_at]))
    until = now - timedelta(seconds=settings.ehr_silence_grace_seconds)
    if until <= since:
        return None
    _, _, query = row.criteria.partition("?")
    params = [tuple(p.split("=", 1)) for p in query.split("&") if "=" in p]
    params += [("_lastUpdated", f"gt{format_instant(since)}"), ("_lastUpdated", f"lt{format_instant(until)}")]
    found = await client.search(row.resource_type, params, max_pages=1)  # type: ignore[arg-type]
    if not found:
        return None
    return f"silent while the EHR changed {len(found)} {row.resource_type} it should have notified"


async def run(conn: AsyncConnection, client: EhrClient, settings: Settings) -> Report:
    """One watch round: judge every row, flag or clear, poll what flagged or polling-only events miss."""
    now = utcnow()
    flagged: list[str] = []
    cleared: list[str] = []
    to_poll: set[str] = set()
    watched_types: set[str] = set()
    for row in await rows(conn):
        if row.resource_type:
            watched_types.add(row.resource_type)
        if row.kind == "polling":
            to_poll.add(row.resource_type)
            continue
        reason = _reason(row, now, settings)
        if reason is None:
            try:
                reason = await _silent(client, row, now, settings)
            except EhrUnavailable:
                raise
            except EhrError as exc:
                log.warning("EHR watch could not search for %s: %s", row.name, exc)
        if reason and row.flagged_at is None:
            await _flag(conn, settings, row, reason, now)
            flagged.append(row.name)
        elif row.flagged_at and row.last_heard_at and row.last_heard_at > row.flagged_at and reason is None:
            await _clear(conn, settings, row)
            cleared.append(row.name)
            continue
        if reason or row.flagged_at:
            to_poll.add(row.resource_type)
    polled = []
    for resource_type in sorted(x for x in to_poll if x):
        await _start_cursor(conn, resource_type, now)
        await sync_type(conn, client, settings, resource_type)
        polled.append(resource_type)
    deletes = 0
    for resource_type in sorted(watched_types):
        try:
            deletes += await sweep_deletes(conn, client, settings, resource_type)
        except EhrUnavailable:
            raise
        except EhrError as exc:  # no _history for this type at this EHR: the delete notifications must do
            log.warning("EHR watch: no delete sweep for %s: %s", resource_type, exc)
    return Report(flagged, cleared, polled, deletes)


async def _start_cursor(conn: AsyncConnection, resource_type: str, now: datetime) -> None:
    """Polling a type the first time starts shortly before now, not at the EHR's beginning."""
    name = f"poll:{resource_type}"
    if await get_cursor(conn, name) is None:
        await set_cursor(conn, name, format_instant(now - timedelta(hours=1)))


async def _flag(conn: AsyncConnection, settings: Settings, row: sa.Row, reason: str, now: datetime) -> None:
    log.warning("EHR subscription %s flagged: %s; polling covers %s", row.name, reason, row.resource_type)
    store = open_store(conn, settings, policy=SCOPE)
    task = {
        "resourceType": "Task",
        "status": "requested",
        "intent": "order",
        "priority": "urgent",
        "identifier": [{"system": WATCH_IDENTIFIER, "value": row.name}],
        "code": {
            "coding": [{"system": TASK_KIND[0], "code": TASK_KIND[1]}],
            "text": "EHR subscription needs attention (hospital IT)",
        },
        "description": (
            f"EHR Subscription {row.name}: {reason}. fhircrm polls {row.resource_type} from the EHR until "
            "notifications resume. Check it with `fhircrm subscriptions status`, fix it on the EHR, and run "
            "`fhircrm subscriptions register` again."
        ),
        "authoredOn": format_instant(now),
    }
    created = (await store.create(task)).content or {}
    await conn.execute(
        sa.update(t).where(t.c.name == row.name).values(flagged_at=now, flag_reason=reason, task_id=created.get("id"))
    )


async def _clear(conn: AsyncConnection, settings: Settings, row: sa.Row) -> None:
    log.info("EHR subscription %s notifies again: flag cleared", row.name)
    if row.task_id:
        store = open_store(conn, settings, policy=SCOPE)
        current = (await store.read("Task", row.task_id)).content or {}
        if current and current.get("status") not in ("completed", "cancelled"):
            await store.update("Task", row.task_id, {**current, "status": "completed"})
    await conn.execute(sa.update(t).where(t.c.name == row.name).values(flagged_at=None, flag_reason=None, task_id=None))
