"""What a journey step does, now: plan a message, create a Task, set a Task's SLA, offer a freed slot, revoke
timers, assess no-show risk. Every write is keyed (conditional create on a deterministic key), so running the
same step twice changes nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlencode

from fhircrm.clock import fhir_datetime
from fhircrm.journeys.context import JourneyContext
from fhircrm.journeys.definitions import Step, parse_timing
from fhircrm.timers.plan import revoke_timers
from fhircrm.timers.resources import MESSAGE, TIMER_IDENTIFIER_SYSTEM, TimerPlan

TASK_TYPE_SYSTEM = "http://fhircrm.org/CodeSystem/task-type"
CRM_ROLE_SYSTEM = "http://fhircrm.org/CodeSystem/crm-role"
MESSAGE_ACTIONS = frozenset({"send-message", "send-survey"})


def duration(text: str) -> timedelta:
    """'48h', '30min', '7d' as a timedelta."""
    return parse_timing(f"event + {text}", where="duration").offset


async def message_plan(step: Step, ctx: JourneyContext, *, key: str, due: datetime, kind: str = MESSAGE) -> TimerPlan:
    data: dict = {"subject": ctx.subject_ref}
    subject = await ctx.subject() or {}
    if subject.get("resourceType") == "Appointment" and subject.get("start"):
        data["appointment_start"] = subject["start"]
    if step.action == "send-survey":
        data["questionnaire"] = step.params.get("questionnaire", "")
    return TimerPlan(
        key=key,
        due=due,
        patient=ctx.patient_ref,
        based_on=[ctx.subject_ref],
        kind=kind,
        template=step.params.get("template", "survey" if step.action == "send-survey" else None),
        purpose=step.params.get("purpose", "survey" if step.action == "send-survey" else "care-coordination"),
        channel=step.params.get("channel"),
        data=data,
    )


async def create_task(step: Step, ctx: JourneyContext, *, key: str) -> None:
    params = step.params
    task: dict = {
        "resourceType": "Task",
        "identifier": [{"system": TIMER_IDENTIFIER_SYSTEM, "value": key}],
        "status": "requested",
        "intent": "order",
        "priority": params.get("priority", "routine"),
        "code": {"coding": [{"system": TASK_TYPE_SYSTEM, "code": params.get("code", "callback")}]},
        "focus": {"reference": ctx.subject_ref},
        "basedOn": [{"reference": ctx.subject_ref}],
        "authoredOn": fhir_datetime(ctx.now),
        "restriction": {"period": {"end": fhir_datetime(ctx.now + duration(params.get("due", "24h")))}},
        "performerType": [{"coding": [{"system": CRM_ROLE_SYSTEM, "code": params.get("role", "coordinator")}]}],
    }
    if params.get("description"):
        task["description"] = params["description"]
    if ctx.patient_ref:
        task["for"] = {"reference": ctx.patient_ref}
    criteria = urlencode({"identifier": f"{TIMER_IDENTIFIER_SYSTEM}|{key}"})
    await ctx.store.create(task, if_none_exist=criteria)


async def set_task_due(step: Step, ctx: JourneyContext) -> None:
    """A complaint's SLA: the Task is due ``after`` from now unless someone already set a due time."""
    task = await ctx.subject()
    if not task or task.get("resourceType") != "Task" or (task.get("restriction") or {}).get("period", {}).get("end"):
        return
    end = fhir_datetime(ctx.now + duration(step.params.get("after", "72h")))
    restriction = {**(task.get("restriction") or {}), "period": {"end": end}}
    await ctx.store.update("Task", task["id"], {**task, "restriction": restriction})


def revoke_prefixes(journeys: str, steps: str) -> tuple[str, ...]:
    """Timer-key prefixes for ``journeys`` (comma list), narrowed to ``steps`` (comma list) when given: keys are
    journey:step:subject:version."""
    names = [j.strip() for j in journeys.split(",") if j.strip()]
    only = [s.strip() for s in steps.split(",") if s.strip()]
    if not only:
        return tuple(f"{j}:" for j in names)
    return tuple(f"{j}:{s}:" for j in names for s in only)


async def run_now(step: Step, ctx: JourneyContext, *, key: str) -> None:
    """Perform ``step`` at ``ctx.now`` (its timing and plan-time conditions are already dealt with)."""
    if step.action in MESSAGE_ACTIONS:
        ctx.plans.append(await message_plan(step, ctx, key=key, due=ctx.now))
        return
    await ctx.flush_plans()  # what follows may read or revoke timers: earlier events' plans must be visible
    if step.action == "create-task":
        await create_task(step, ctx, key=key)
    elif step.action == "set-task-due":
        await set_task_due(step, ctx)
    elif step.action == "revoke-timers":
        prefixes = revoke_prefixes(step.params.get("journeys", ""), step.params.get("steps", ""))
        if step.params.get("scope", "subject") == "patient" and ctx.patient_ref:
            await revoke_timers(ctx.store, patient=ctx.patient_ref, key_prefixes=prefixes)
        else:
            await revoke_timers(ctx.store, based_on=ctx.subject_ref, key_prefixes=prefixes)
    elif step.action == "offer-waitlist":
        from fhircrm.waitlist.offers import offer_freed_slot

        subject = await ctx.subject()
        if subject and subject.get("resourceType") == "Appointment":
            await offer_freed_slot(ctx.store, subject, settings=ctx.settings, now=ctx.now)
    elif step.action == "set-risk":
        from fhircrm.noshow.assess import assess_appointment

        subject = await ctx.subject()
        if subject and subject.get("resourceType") == "Appointment":
            await assess_appointment(ctx.store, subject, settings=ctx.settings, now=ctx.now)
    else:  # pragma: no cover - definitions refuse unknown actions
        raise ValueError(step.action)
