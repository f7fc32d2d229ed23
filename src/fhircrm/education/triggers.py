"""When education goes out: warning signs after a visit, chronic-care content for the patient's conditions
after a visit (once per condition), preparation two days before a surgery, lab or imaging appointment."""

from __future__ import annotations

from datetime import timedelta

from fhircrm.clock import current_time, parse_fhir_datetime
from fhircrm.config import Settings
from fhircrm.education.library import for_condition, for_service
from fhircrm.education.send import send_education
from fhircrm.events import DomainEvent, EventName
from fhircrm.fhir.referenced import read_reference
from fhircrm.fhir.store import FhirStore

PREPARATION_LEAD = timedelta(days=2)


async def on_event(store: FhirStore, event: DomainEvent, settings: Settings) -> list[dict]:
    if not event.patient:
        return []
    now = current_time(settings)
    sent: list[dict] = []
    if event.name is EventName.VISIT_COMPLETED:
        sent.append(
            await send_education(
                store,
                patient=event.patient,
                topic="warning-signs",
                settings=settings,
                now=now,
                occasion=event.visit or event.subject,  # once per visit, not per record of it
            )
        )
        conditions = await store.search("Condition", [("patient", event.patient), ("_count", "50")])
        codes = {c.get("code") for cond in conditions.matches for c in (cond.get("code") or {}).get("coding", [])}
        for content in {item.topic: item for code in codes if code for item in for_condition(code)}.values():
            sent.append(
                await send_education(
                    store, patient=event.patient, topic=content.topic, settings=settings, now=now, occasion="chronic"
                )
            )
    elif event.name is EventName.APPOINTMENT_BOOKED:
        appointment = await read_reference(store, event.subject) or {}
        text = " ".join(
            [c.get("text", "") for c in appointment.get("serviceType", [])]
            + [d.get("display", "") for c in appointment.get("serviceType", []) for d in c.get("coding", [])]
        )
        if appointment.get("start") and text.strip():
            start = parse_fhir_datetime(appointment["start"])
            for content in for_service(text):
                sent.append(
                    await send_education(
                        store,
                        patient=event.patient,
                        topic=content.topic,
                        settings=settings,
                        now=now,
                        occasion=event.subject,
                        about=[event.subject],
                        not_before=max(now, start - PREPARATION_LEAD),
                    )
                )
    return sent
