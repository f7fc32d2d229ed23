"""The journey engine: domain events in, planned timers and work out.

``on_event`` runs every active journey triggered by the event: plan-time conditions decide which steps apply;
a step with a time is planned as a timer (a message CommunicationRequest, or a ``journey-step`` timer when it
must re-check conditions or do something other than send), a step without one runs now. Keys are
journey:step:subject:version, so the same event seen twice plans nothing new, and a later change of the same
subject (rescheduled) plans afresh; a completed visit is keyed by its Appointment (``occasion``), so its
Appointment's and its Encounter's VisitCompleted plan its post-visit steps once. ``fire_step`` is the sweep's
dispatcher for ``journey-step`` timers.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.clock import current_time, parse_fhir_datetime
from fhircrm.config import Settings
from fhircrm.events import DomainEvent
from fhircrm.fhir.access import ServiceScope
from fhircrm.fhir.store import FhirStore
from fhircrm.journeys.actions import MESSAGE_ACTIONS, message_plan, run_now
from fhircrm.journeys.conditions import all_hold
from fhircrm.journeys.context import JourneyContext
from fhircrm.journeys.definitions import Journey, Step
from fhircrm.journeys.library import LIBRARY, JourneyLibrary
from fhircrm.stores import open_store
from fhircrm.timers.dispatch import COMPLETED, Dispatch, Outcome
from fhircrm.timers.hours import patient_zone, within_contact_hours
from fhircrm.timers.plan import plan_timers
from fhircrm.timers.resources import data_of, timer_key

log = logging.getLogger(__name__)

JOURNEY_STEP = "journey-step"


async def on_event(
    conn: AsyncConnection,
    event: DomainEvent,
    *,
    settings: Settings,
    library: JourneyLibrary = LIBRARY,
    now: datetime | None = None,
    plans: list | None = None,
) -> int:
    """Run the journeys ``event`` triggers; returns how many steps applied. With ``plans`` (a batch's shared
    list) the timers are left there for the caller to write; otherwise they are written now."""
    store = open_store(conn, settings, policy=ServiceScope("journeys"))
    moment = now or current_time(settings)
    event_time = parse_fhir_datetime(event.occurred_at) if event.occurred_at else moment
    ctx = JourneyContext(
        store=store,
        settings=settings,
        now=moment,
        subject_ref=event.subject,
        patient_ref=event.patient,
        event_time=event_time,
        plans=[] if plans is None else plans,
    )
    applied = 0
    for journey in await library.active(store):
        for trigger in journey.triggers:
            if event.name not in trigger.events or not await all_hold(trigger.when, ctx):
                continue
            for step in trigger.steps:
                if await all_hold(step.when, ctx):
                    await plan_step(journey, step, ctx, key=f"{journey.id}:{step.id}:{occasion(event)}")
                    applied += 1
    if plans is None:
        await plan_timers(store, ctx.plans, now=moment)
    return applied


def occasion(event: DomainEvent) -> str:
    """What a journey's steps are planned once for: the event's subject at its version, except a completed visit,
    which completes once whichever record says so. The EHR marks the Appointment fulfilled and finishes its
    Encounter, two VisitCompleted events; keyed by the Appointment, the second plans nothing new (keyed by
    each subject, every visit got its post-visit instructions and survey twice)."""
    return f"{event.visit}:completed" if event.visit else f"{event.subject}:{event.version}"


async def on_events(
    conn: AsyncConnection,
    events: list[DomainEvent],
    *,
    settings: Settings,
    library: JourneyLibrary = LIBRARY,
    now: datetime | None = None,
) -> int:
    """Run a batch of events in order; their timers and RiskAssessments are written together at the end (a
    step that revokes or reads timers first writes those planned so far)."""
    from fhircrm.noshow.assess import deferred_assessments

    store = open_store(conn, settings, policy=ServiceScope("journeys"))
    moment = now or current_time(settings)
    plans: list = []
    applied = 0
    async with deferred_assessments(store):
        for event in events:
            applied += await on_event(conn, event, settings=settings, library=library, now=moment, plans=plans)
    await plan_timers(store, plans, now=moment)
    return applied


async def plan_step(journey: Journey, step: Step, ctx: JourneyContext, *, key: str) -> None:
    if step.at is None:
        await run_now(step, ctx, key=key)
        return
    start = await ctx.start()
    anchor = start if step.at.anchor == "start" else ctx.event_time
    if anchor is None:
        return  # "start - 24h" of something without a start
    due = anchor + step.at.offset
    if step.action in MESSAGE_ACTIONS:
        zone = patient_zone(await ctx.patient(), ctx.settings.timers_default_timezone)
        hours = {"start_hour": ctx.settings.contact_day_start_hour, "end_hour": ctx.settings.contact_day_end_hour}
        due = within_contact_hours(due, zone, not_after=start, **hours)
    if due <= ctx.now:
        if step.late == "skip" or (start is not None and start <= ctx.now):
            return
        due = ctx.now
    if step.action in MESSAGE_ACTIONS and not step.check:
        plan = await message_plan(step, ctx, key=key, due=due)
    else:
        plan = await message_plan(step, ctx, key=key, due=due, kind=JOURNEY_STEP)
        plan.data.update(journey=journey.id, step=step.id, event_time=ctx.event_time.isoformat())
    ctx.plans.append(plan)


def step_dispatcher(settings: Settings, *, send: Dispatch, library: JourneyLibrary = LIBRARY) -> Dispatch:
    """The sweep's dispatcher for ``journey-step`` timers: re-check, then act (with the journey as it is now); a
    message step is handed to ``send`` (the wiring's dispatcher of the message's kind)."""

    async def fire_step(store: FhirStore, request: dict, now: datetime) -> Outcome:
        data = data_of(request)
        journey = await library.get(store, data.get("journey", ""))
        step = journey.step(data.get("step", "")) if journey else None
        if step is None:
            log.info("timer %s: journey step is gone; nothing to do", request["id"])
            return COMPLETED
        ctx = JourneyContext(
            store=store,
            settings=settings,
            now=now,
            subject_ref=data["subject"],
            patient_ref=(request.get("subject") or {}).get("reference"),
            event_time=datetime.fromisoformat(data["event_time"]),
        )
        if not await all_hold(step.check, ctx):
            return COMPLETED
        if step.action in MESSAGE_ACTIONS:
            return await send(store, request, now)
        await run_now(step, ctx, key=timer_key(request) or request["id"])
        await plan_timers(store, ctx.plans, now=now)
        return COMPLETED

    return fire_step
