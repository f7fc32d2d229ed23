"""A due message timer leaves the timer world here: the channel layer's dispatcher for ``message`` timers.

``queue_message`` writes the Communication and its delivery job in the sweep's transaction and applies consent,
quiet hours and caps; the timer's id is the dedupe key, so a timer dispatched again queues nothing new.
``message_context`` is the variables templates see (survey invitations use it too, through fhircrm.surveys).
"""

from __future__ import annotations

from datetime import datetime

from fhircrm.channels.outbound import queue_message
from fhircrm.channels.templates import TemplateError
from fhircrm.clock import parse_fhir_datetime
from fhircrm.config import Settings
from fhircrm.fhir.referenced import read_reference
from fhircrm.fhir.store import FhirStore
from fhircrm.timers.dispatch import COMPLETED, Dispatch, Outcome
from fhircrm.timers.hours import patient_zone
from fhircrm.timers.resources import based_on_of, channel_of, data_of, patient_of, purpose_of, template_of

#: Messages whose text the channel layer has no template for yet go out through its ``generic`` template.
FALLBACK_TEXT = {
    "post-visit-instructions": (
        "Thank you for your visit to {clinic_name}. Your care instructions are in your patient portal."
    ),
    "reschedule-outreach": "We missed you at {clinic_name}. Reply to this message and we will find you a new time.",
    "referral-contact": "{clinic_name} received your referral. Reply to this message to choose an appointment time.",
    "control-visit-due": "It is time for your control visit at {clinic_name}. Reply to this message to book it.",
    "complaint-acknowledgement": "{clinic_name} received your feedback and will get back to you soon.",
    "waitlist-offer": (
        "A {service} appointment opened on {appointment_date} at {appointment_time}. Reply YES to take it."
    ),
    "waitlist-slot-taken": "The {service} appointment we offered you has been taken. You stay on the waitlist.",
}


async def message_context(store: FhirStore, request: dict, settings: Settings) -> dict:
    """The variables templates use: names, service and the appointment's local date and time."""
    data = data_of(request)
    context: dict = {"clinic_name": "our clinic", "service": "clinic", "patient_name": "there"}
    patient = await read_reference(store, patient_of(request))
    names = (patient or {}).get("name") or [{}]
    if names[0].get("given"):
        context["patient_name"] = names[0]["given"][0]
    subject = await read_reference(store, data.get("subject")) or {}
    start = data.get("slot_start") or subject.get("start")
    if start:
        local = parse_fhir_datetime(start).astimezone(patient_zone(patient, settings.timers_default_timezone))
        context["appointment_date"] = local.strftime("%A %d %B %Y")
        context["appointment_time"] = local.strftime("%H:%M")
    for concept in subject.get("serviceType", []):
        context["service"] = concept.get("text") or next(
            (c.get("display") for c in concept.get("coding", [])), "clinic"
        )
    for participant in subject.get("participant", []):
        actor = participant.get("actor") or {}
        if actor.get("reference", "").startswith("Location/") and actor.get("display"):
            context["clinic_name"] = actor["display"]
    # a survey's link is signed by fhircrm.surveys (its own timer kind, ``survey``), never built here
    return {**data, **context}


def message_dispatcher(settings: Settings) -> Dispatch:
    """The dispatcher of ``message`` timers: hand the due CommunicationRequest to the channel layer."""

    async def send_due_message(store: FhirStore, request: dict, now: datetime) -> Outcome:
        template = template_of(request) or "generic"
        context = await message_context(store, request, settings)
        arguments = {
            "patient": patient_of(request),
            "purpose": purpose_of(request) or "care-coordination",
            "channel": channel_of(request),
            "based_on": [f"CommunicationRequest/{request['id']}", *based_on_of(request)],
            "about": [ref for ref in based_on_of(request) if ref.startswith("Appointment/")],
            "dedupe_key": f"CommunicationRequest/{request['id']}",
            "settings": settings,
            "now": now,
        }
        try:
            await queue_message(store, template=template, context=context, **arguments)
        except TemplateError:
            if template not in FALLBACK_TEXT:
                raise
            body = FALLBACK_TEXT[template].format_map({"appointment_date": "", "appointment_time": "", **context})
            generic = {**context, "subject": body.split(".")[0], "body": body}
            await queue_message(store, template="generic", context=generic, **arguments)
        return COMPLETED

    return send_due_message
