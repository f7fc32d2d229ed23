"""Offer a freed slot, accept an offer, move on when a hold expires.

An offer is a message timer (CommunicationRequest keyed waitlist-offer:<slot>:<entry>, based on the freed
Appointment and the waitlist entry), due when it can be sent (after the candidate's quiet hours); the hold starts
then, and a ``waitlist-hold-expiry`` timer is due when the round's last hold ends. The
first acceptance (the freed Appointment's row lock serializes them) turns the winner's waitlist entry into a
booking of the slot with the recovered-slot identifier; later ones get 409.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from fhircrm.channels.contacts import timezone_of
from fhircrm.channels.policy import next_allowed
from fhircrm.clock import fhir_datetime, parse_fhir_datetime
from fhircrm.config import Settings
from fhircrm.errors import Conflict, NotFound
from fhircrm.fhir.referenced import read_reference
from fhircrm.fhir.store import FhirStore
from fhircrm.noshow.features import patient_ref
from fhircrm.timers.dispatch import COMPLETED, Dispatch, Outcome
from fhircrm.timers.plan import plan_timer, revoke_timers
from fhircrm.timers.resources import TimerPlan, data_of, timer_key
from fhircrm.waitlist.candidates import ranked_candidates

RECOVERED_SYSTEM = "http://fhircrm.org/recovered-slot"
HOLD_EXPIRY = "waitlist-hold-expiry"
PURPOSE = "appointment-reminders"


def offer_key(slot_id: str, entry_id: str) -> str:
    return f"waitlist-offer:{slot_id}:{entry_id}"


async def _offers(store: FhirStore, slot_id: str) -> list[dict]:
    found = await store.match_all("CommunicationRequest", f"based-on=Appointment/{slot_id}")
    return [c.content for c in found if c.content and (timer_key(c.content) or "").startswith("waitlist-offer:")]


async def first_send_time(store: FhirStore, patient: str | None, *, settings: Settings, now: datetime) -> datetime:
    """When an offer to ``patient`` can actually go out: now, or the end of their quiet hours (the channel layer
    would hold it until then anyway, and a hold that ran meanwhile would be over before they could answer)."""
    found = await read_reference(store, patient)
    zone = timezone_of(found or {}, settings.channels_clinic_timezone)
    later = next_allowed(now, zone, settings.channels_quiet_start_hour, settings.channels_quiet_end_hour)
    return later or now


async def offer_freed_slot(store: FhirStore, slot: dict, *, settings: Settings, now: datetime, round_: int = 1) -> int:
    """Offer ``slot`` (a cancelled Appointment) to the next best candidates; returns how many were offered.

    Each offer is sent when it can be (after the candidate's quiet hours) and its hold starts then; a candidate
    who could not be told before the slot starts is passed over for the next one.
    """
    if not slot.get("start") or (start := parse_fhir_datetime(slot["start"])) <= now:
        return 0
    offered = {data_of(o).get("entry", "") for o in await _offers(store, slot["id"])}
    hold = timedelta(minutes=settings.waitlist_hold_minutes)
    holds_end = []
    for entry in await ranked_candidates(store, slot, exclude=offered):
        if len(holds_end) == settings.waitlist_offer_count:
            break
        send_at = await first_send_time(store, patient_ref(entry), settings=settings, now=now)
        if send_at >= start:
            continue
        plan = TimerPlan(
            key=offer_key(slot["id"], entry["id"]),
            due=send_at,
            patient=patient_ref(entry),
            based_on=[f"Appointment/{slot['id']}", f"Appointment/{entry['id']}"],
            template="waitlist-offer",
            purpose=PURPOSE,
            data={"entry": entry["id"], "slot_start": slot["start"], "hold_expires": fhir_datetime(send_at + hold)},
        )
        await plan_timer(store, plan, now=now)
        holds_end.append(send_at + hold)
    if holds_end:
        expiry = TimerPlan(
            key=f"waitlist-hold:{slot['id']}:{round_}",
            due=max(holds_end),
            patient=None,
            based_on=[f"Appointment/{slot['id']}"],
            kind=HOLD_EXPIRY,
            data={"slot": slot["id"], "round": round_},
        )
        await plan_timer(store, expiry, now=now)
    return len(holds_end)


async def accept_offer(store: FhirStore, *, slot_id: str, entry_id: str, now: datetime) -> dict:
    """Book the slot for the waitlist entry ``entry_id`` if its offer is open and the slot still free."""
    slot = await store.lock("Appointment", slot_id)
    if slot is None or slot.content is None:
        raise NotFound(f"Appointment/{slot_id} is not known")
    offer = next((o for o in await _offers(store, slot_id) if data_of(o).get("entry") == entry_id), None)
    if offer is None:
        raise NotFound(f"no offer of Appointment/{slot_id} to Appointment/{entry_id}")
    if parse_fhir_datetime(data_of(offer)["hold_expires"]) < now:
        raise Conflict("the hold on this slot has expired")
    taken = await store.search("Appointment", [("identifier", f"{RECOVERED_SYSTEM}|{slot_id}"), ("_count", "1")])
    if taken.matches:
        raise Conflict("the slot has already been taken")
    entry = (await store.read("Appointment", entry_id)).content or {}
    if entry.get("status") != "waitlist":
        raise Conflict(f"Appointment/{entry_id} is no longer on the waitlist")
    content = slot.content
    others = [
        p
        for p in content.get("participant", [])
        if not (p.get("actor") or {}).get("reference", "").startswith("Patient/")
    ]
    mine = [
        {**p, "status": "accepted"}
        for p in entry.get("participant", [])
        if (p.get("actor") or {}).get("reference", "").startswith("Patient/")
    ]
    booked = {
        **entry,
        "status": "booked",
        "start": content["start"],
        "participant": mine + others,
        "identifier": [*entry.get("identifier", []), {"system": RECOVERED_SYSTEM, "value": slot_id}],
    }
    if content.get("end"):
        booked["end"] = content["end"]
    if content.get("slot"):  # the freed Slot now carries a live Appointment: the recovered-slots indicator
        booked["slot"] = content["slot"]
    booked.pop("requestedPeriod", None)
    outcome = await store.update("Appointment", entry_id, booked)
    await revoke_timers(store, based_on=f"Appointment/{slot_id}", key_prefixes=("waitlist-hold:",))
    for other in await _offers(store, slot_id):
        other_entry = data_of(other).get("entry")
        if other_entry and other_entry != entry_id:
            gone = TimerPlan(
                key=f"waitlist-gone:{slot_id}:{other_entry}",
                due=now,
                patient=(other.get("subject") or {}).get("reference"),
                based_on=[f"Appointment/{slot_id}", f"Appointment/{other_entry}"],
                template="waitlist-slot-taken",
                purpose=PURPOSE,
            )
            await plan_timer(store, gone, now=now)
    return outcome.content or booked


def hold_expiry_dispatcher(settings: Settings) -> Dispatch:
    """The sweep's dispatcher for ``waitlist-hold-expiry``: nobody took the slot in time, offer it onward."""

    async def on_expiry(store: FhirStore, request: dict, now: datetime) -> Outcome:
        data = data_of(request)
        slot_id = data["slot"]
        taken = await store.search("Appointment", [("identifier", f"{RECOVERED_SYSTEM}|{slot_id}"), ("_count", "1")])
        if not taken.matches:
            slot = (await store.read("Appointment", slot_id)).content or {}
            await offer_freed_slot(store, slot, settings=settings, now=now, round_=int(data.get("round", 1)) + 1)
        return COMPLETED

    return on_expiry


async def recovered_slots(store: FhirStore) -> int:
    """How many freed slots went to a waitlisted patient."""
    result = await store.search("Appointment", [("identifier", f"{RECOVERED_SYSTEM}|"), ("_summary", "count")])
    return result.total or 0
