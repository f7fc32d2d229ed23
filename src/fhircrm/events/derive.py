"""Which domain events a resource change means. Pure functions of (previous, current) content.

An Appointment whose status moves to ``booked`` is AppointmentBooked; ``cancelled`` is AppointmentCancelled;
``noshow`` AppointmentNoShow; ``fulfilled`` VisitCompleted; a booked Appointment whose start moves is
AppointmentRescheduled. The same rules serve the EHR mirror and our own API, so an event is derived once,
from whichever path the change took.
"""

from __future__ import annotations

from collections.abc import Callable

from fhircrm.events.model import DomainEvent, EventName

Rule = Callable[[dict | None, dict], list[DomainEvent]]

APPOINTMENT_STATUS_EVENTS = {
    "booked": EventName.APPOINTMENT_BOOKED,
    "cancelled": EventName.APPOINTMENT_CANCELLED,
    "noshow": EventName.APPOINTMENT_NO_SHOW,
    "arrived": EventName.APPOINTMENT_ARRIVED,
    "checked-in": EventName.APPOINTMENT_ARRIVED,
    "fulfilled": EventName.VISIT_COMPLETED,
    "waitlist": EventName.APPOINTMENT_WAITLISTED,
}


def _ref(value: object) -> str | None:
    if isinstance(value, dict) and isinstance(value.get("reference"), str):
        return value["reference"]
    return None


def _patient_of(resource: dict) -> str | None:
    """The Patient reference of a resource, from the elements engagement resources use."""
    if resource.get("resourceType") == "Patient":
        return f"Patient/{resource['id']}"
    for key in ("subject", "patient", "for", "beneficiary"):
        ref = _ref(resource.get(key))
        if ref and ref.startswith("Patient/"):
            return ref
    for participant in resource.get("participant", []):  # Appointment
        ref = _ref(participant.get("actor"))
        if ref and ref.startswith("Patient/"):
            return ref
    ref = _ref(resource.get("sender"))  # inbound Communication
    if ref and ref.startswith("Patient/"):
        return ref
    return None


def _event(name: EventName, current: dict, **data: object) -> DomainEvent:
    return DomainEvent(
        name=name,
        subject=f"{current['resourceType']}/{current['id']}",
        version=str(current.get("meta", {}).get("versionId", "")),
        patient=_patient_of(current),
        occurred_at=current.get("meta", {}).get("lastUpdated"),
        data={k: v for k, v in data.items() if v is not None},
    )


def _became(previous: dict | None, current: dict, field: str, value: str) -> bool:
    return current.get(field) == value and (previous or {}).get(field) != value


def appointment(previous: dict | None, current: dict) -> list[DomainEvent]:
    status, before = current.get("status"), (previous or {}).get("status")
    events = []
    if status != before and status in APPOINTMENT_STATUS_EVENTS:
        events.append(
            _event(
                APPOINTMENT_STATUS_EVENTS[status],
                current,
                status=status,
                previous_status=before,
                start=current.get("start"),
            )
        )
    elif status == "booked" and previous and previous.get("start") != current.get("start"):
        events.append(
            _event(
                EventName.APPOINTMENT_RESCHEDULED,
                current,
                start=current.get("start"),
                previous_start=previous.get("start"),
            )
        )
    if status in ("booked", "pending") and previous is not None and _became_confirmed(previous, current):
        events.append(_event(EventName.APPOINTMENT_CONFIRMED, current, start=current.get("start")))
    return events


CONFIRMED_URL = "http://fhircrm.org/StructureDefinition/appointment-confirmed"


def _became_confirmed(previous: dict, current: dict) -> bool:
    """The patient said yes: the confirmed extension appeared (a "C" reply), or the patient participant's status
    moved to accepted. Only changes count: EHRs often create appointments already accepted."""

    def marked(a: dict) -> bool:
        return any(e.get("url") == CONFIRMED_URL for e in a.get("extension", []))

    def accepted(a: dict) -> bool:
        return any(
            (_ref(p.get("actor")) or "").startswith("Patient/") and p.get("status") == "accepted"
            for p in a.get("participant", [])
        )

    if marked(previous):
        return False
    return marked(current) or (accepted(current) and not accepted(previous))


def encounter(previous: dict | None, current: dict) -> list[DomainEvent]:
    if _became(previous, current, "status", "finished"):
        return [
            _event(
                EventName.VISIT_COMPLETED,
                current,
                encounter=f"Encounter/{current['id']}",
                appointment=next((_ref(a) for a in current.get("appointment", [])), None),
            )
        ]
    return []


REFERRAL_CATEGORY_CODES = frozenset({"3457005", "referral"})  # SNOMED "Patient referral", or a local code


def service_request(previous: dict | None, current: dict) -> list[DomainEvent]:
    """A new active ServiceRequest categorised as a referral (SNOMED 3457005)."""
    is_referral = any(
        coding.get("code") in REFERRAL_CATEGORY_CODES
        for category in current.get("category", [])
        for coding in category.get("coding", [])
    )
    if previous is None and current.get("status") == "active" and is_referral:
        return [_event(EventName.REFERRAL_CREATED, current)]
    return []


def diagnostic_report(previous: dict | None, current: dict) -> list[DomainEvent]:
    if _became(previous, current, "status", "final"):
        return [_event(EventName.RESULT_FINAL, current)]
    return []


def patient(previous: dict | None, current: dict) -> list[DomainEvent]:
    if previous is not None:
        return [_event(EventName.PATIENT_UPDATED, current)]
    return []


def communication(previous: dict | None, current: dict) -> list[DomainEvent]:
    inbound = (_ref(current.get("sender")) or "").startswith(("Patient/", "RelatedPerson/"))
    if inbound and _became(previous, current, "status", "completed"):
        return [_event(EventName.MESSAGE_RECEIVED, current)]
    return []


def questionnaire_response(previous: dict | None, current: dict) -> list[DomainEvent]:
    if _became(previous, current, "status", "completed"):
        return [_event(EventName.SURVEY_ANSWERED, current, questionnaire=current.get("questionnaire"))]
    return []


def task(previous: dict | None, current: dict) -> list[DomainEvent]:
    if previous is None:
        code = next((c.get("code") for c in current.get("code", {}).get("coding", [])), None)
        return [_event(EventName.TASK_CREATED, current, code=code, priority=current.get("priority"))]
    return []


def consent(_previous: dict | None, current: dict) -> list[DomainEvent]:
    return [_event(EventName.CONSENT_CHANGED, current, status=current.get("status"))]


RULES: dict[str, Rule] = {
    "Appointment": appointment,
    "Encounter": encounter,
    "ServiceRequest": service_request,
    "DiagnosticReport": diagnostic_report,
    "Patient": patient,
    "Communication": communication,
    "QuestionnaireResponse": questionnaire_response,
    "Task": task,
    "Consent": consent,
}


def derive(previous: dict | None, current: dict | None) -> list[DomainEvent]:
    """Events meant by a change from ``previous`` to ``current`` (None: created / deleted)."""
    if current is None:
        return []
    rule = RULES.get(current.get("resourceType", ""))
    return rule(previous, current) if rule else []
