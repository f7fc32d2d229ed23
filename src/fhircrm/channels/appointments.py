"""Act on a confirm or cancel reply: the patient's next booked appointment (or the one the message was about).

Confirming sets the patient participant's status to ``accepted`` (the journeys see AppointmentConfirmed);
cancelling sets the Appointment ``cancelled`` (AppointmentCancelled frees the slot for the waitlist).
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime

from fhircrm.channels.codes import concept
from fhircrm.channels.communications import instant
from fhircrm.errors import NotFound
from fhircrm.events.derive import CONFIRMED_URL
from fhircrm.fhir.references import split
from fhircrm.fhir.store import FhirStore

CANCEL_REASON_SYSTEM = "http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason"


async def target_appointment(store: FhirStore, patient_ref: str, about: list[str]) -> dict | None:
    """The appointment the replied-to message was about, if still upcoming; else the next booked one."""
    for reference in about:
        if reference.startswith("Appointment/"):
            try:
                found = (await store.read("Appointment", split(reference)[1])).content
            except NotFound:
                continue
            if found and found.get("status") in ("booked", "pending", "proposed"):
                return found
            if found and found.get("status") == "waitlist":
                return None  # a yes to a waitlist slot offer: fhircrm.waitlist books it, nothing to confirm here
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    result = await store.search(
        "Appointment",
        [
            ("actor", patient_ref),
            ("status", "booked,pending"),
            ("date", f"ge{now}"),
            ("_sort", "date"),
            ("_count", "1"),
        ],
    )
    return result.matches[0] if result.matches else None


async def confirm(store: FhirStore, appointment: dict, patient_ref: str) -> dict:
    body = copy.deepcopy(appointment)
    for participant in body.get("participant", []):
        if (participant.get("actor") or {}).get("reference") == patient_ref:
            participant["status"] = "accepted"
    if body.get("status") == "pending":
        body["status"] = "booked"
    others = [e for e in body.get("extension", []) if e.get("url") != CONFIRMED_URL]
    body["extension"] = [*others, {"url": CONFIRMED_URL, "valueDateTime": instant()}]
    return (await store.update("Appointment", body["id"], body)).content or body


async def cancel(store: FhirStore, appointment: dict, patient_ref: str) -> dict:
    body = copy.deepcopy(appointment)
    body["status"] = "cancelled"
    body["cancelationReason"] = concept(CANCEL_REASON_SYSTEM, "pat", "Patient")
    for participant in body.get("participant", []):
        if (participant.get("actor") or {}).get("reference") == patient_ref:
            participant["status"] = "declined"
    return (await store.update("Appointment", body["id"], body)).content or body
