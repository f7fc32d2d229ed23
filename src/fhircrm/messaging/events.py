"""The message events fhircrm receives: what each needs as its focus, and how it is written as FHIR.

An event is named by ``MessageHeader.eventCoding``: our code system, or the HL7 v2 trigger event an EHR feed
maps from (ADT A01, A03, A04, A08, A40; SIU S12, S13, S15, S26; ORM O01; ORU R01). Its resources are written
through the store like REST writes, so the domain events that journeys react to (``fhircrm.events.derive``) are
derived from the writes exactly as they would be for the same REST requests; the event code only says what the
focus must be, so that a message that says "cancelled" cannot book.
"""

from __future__ import annotations

from dataclasses import dataclass

SYSTEM = "http://fhircrm.org/CodeSystem/message-event"
V2_EVENTS = "http://terminology.hl7.org/CodeSystem/v2-0003"


@dataclass(frozen=True, slots=True)
class MessageEvent:
    code: str
    display: str
    #: the focus must include a resource of one of these types
    focus: tuple[str, ...]
    #: ... whose status is one of these (empty: any)
    statuses: tuple[str, ...] = ()
    #: the HL7 v2 trigger events that mean the same
    v2: tuple[str, ...] = ()
    #: a merge: a focus Patient must link to the other record (replaced-by / replaces)
    merge: bool = False

    def coding(self) -> dict:
        return {"system": SYSTEM, "code": self.code, "display": self.display}


EVENTS: tuple[MessageEvent, ...] = (
    MessageEvent("patient-registered", "Patient registered", ("Patient",), v2=("A04", "A28")),
    MessageEvent("patient-updated", "Patient updated", ("Patient",), v2=("A08", "A31")),
    MessageEvent("patient-merged", "Patient records merged", ("Patient",), v2=("A40",), merge=True),
    MessageEvent("patient-admitted", "Patient admitted", ("Encounter",), ("in-progress", "arrived"), ("A01",)),
    MessageEvent("patient-discharged", "Patient discharged", ("Encounter",), ("finished",), ("A03",)),
    MessageEvent("appointment-booked", "Appointment booked", ("Appointment",), ("booked",), ("S12",)),
    MessageEvent("appointment-rescheduled", "Appointment rescheduled", ("Appointment",), ("booked",), ("S13",)),
    MessageEvent("appointment-cancelled", "Appointment cancelled", ("Appointment",), ("cancelled",), ("S15",)),
    MessageEvent("appointment-no-show", "Appointment no-show", ("Appointment",), ("noshow",), ("S26",)),
    MessageEvent("order-placed", "Order placed", ("ServiceRequest", "MedicationRequest"), v2=("O01",)),
    MessageEvent(
        "result-reported",
        "Result reported",
        ("DiagnosticReport", "Observation"),
        ("final", "amended", "corrected"),
        ("R01",),
    ),
)

_BY_CODING: dict[tuple[str, str], MessageEvent] = {(SYSTEM, e.code): e for e in EVENTS} | {
    (V2_EVENTS, code): e for e in EVENTS for code in e.v2
}


def event_of(coding: object) -> MessageEvent | None:
    if not isinstance(coding, dict):
        return None
    return _BY_CODING.get((str(coding.get("system")), str(coding.get("code"))))


def supported_codings() -> list[dict]:
    """Every event coding fhircrm accepts (ours and the v2 trigger events), for the CapabilityStatement."""
    out = [e.coding() for e in EVENTS]
    out += [{"system": V2_EVENTS, "code": code, "display": e.display} for e in EVENTS for code in e.v2]
    return out
