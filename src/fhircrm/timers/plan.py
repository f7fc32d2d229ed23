"""Plan timers (conditional create on their key) and revoke them (an appointment cancelled or moved)."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from fhircrm.fhir.store import FhirStore, Operation
from fhircrm.timers.resources import TIMER_IDENTIFIER_SYSTEM, TimerPlan, timer_key


def key_criteria(key: str) -> str:
    return urlencode({"identifier": f"{TIMER_IDENTIFIER_SYSTEM}|{key}"})


async def plan_timer(store: FhirStore, plan: TimerPlan, *, now: datetime) -> bool:
    """Create the CommunicationRequest for ``plan`` unless one with its key exists; True when created."""
    outcome = await store.create(plan.to_resource(authored=now), if_none_exist=key_criteria(plan.key))
    return outcome.created


async def plan_timers(store: FhirStore, plans: list[TimerPlan], *, now: datetime) -> int:
    """Create the timers of ``plans`` whose keys do not exist yet, in one search and one batch write."""
    wanted = {plan.key: plan for plan in plans}
    if not wanted:
        return 0
    values = ",".join(f"{TIMER_IDENTIFIER_SYSTEM}|{key.replace(',', chr(92) + ',')}" for key in wanted)
    found = await store.search("CommunicationRequest", [("identifier", values), ("_count", str(len(wanted) + 1))])
    existing = {timer_key(m) for m in found.matches}
    ops = [
        Operation("POST", "CommunicationRequest", resource=plan.to_resource(authored=now))
        for key, plan in wanted.items()
        if key not in existing
    ]
    if ops:
        await store.apply(ops)
    return len(ops)


async def revoke_timers(
    store: FhirStore, *, based_on: str | None = None, patient: str | None = None, key_prefixes: tuple[str, ...] = ()
) -> int:
    """Revoke active timers (CommunicationRequest ``revoked``) and cancel still-open journey Tasks that are
    based on ``based_on`` (or concern ``patient``), optionally only those whose key starts with a prefix."""
    if based_on is None and patient is None:
        raise ValueError("revoke_timers needs based_on or patient")
    selector = f"based-on={based_on}" if based_on else f"subject={patient}"
    requests = await store.match_all("CommunicationRequest", f"status=active&{selector}")
    tasks = await store.match_all("Task", f"status=draft,requested&{selector.replace('subject', 'patient')}")

    def wanted(content: dict) -> bool:
        key = timer_key(content)
        return key is not None and (not key_prefixes or key.startswith(key_prefixes))

    ops = [
        Operation("PUT", c.res_type, c.fhir_id, {**c.content, "status": "revoked"})
        for c in requests
        if c.content and wanted(c.content)
    ]
    ops += [
        Operation("PUT", c.res_type, c.fhir_id, {**c.content, "status": "cancelled"})
        for c in tasks
        if c.content and wanted(c.content)
    ]
    if ops:
        await store.apply(ops)
    return len(ops)
