"""AppointmentConfirmed: derived when a patient's yes is recorded on a booked appointment, never at creation."""

from __future__ import annotations

from fhircrm.events import EventName, derive
from fhircrm.events.derive import CONFIRMED_URL


def _appointment(*, participant_status: str, version: str, confirmed: bool = False) -> dict:
    body = {
        "resourceType": "Appointment",
        "id": "a1",
        "meta": {"versionId": version},
        "status": "booked",
        "start": "2030-03-20T13:30:00Z",
        "participant": [{"actor": {"reference": "Patient/p1"}, "status": participant_status}],
    }
    if confirmed:
        body["extension"] = [{"url": CONFIRMED_URL, "valueDateTime": "2030-03-14T16:00:00Z"}]
    return body


def test_the_patient_participant_accepting_a_booked_appointment_is_appointment_confirmed() -> None:
    before = _appointment(participant_status="needs-action", version="1")
    after = _appointment(participant_status="accepted", version="2")
    assert [e.name for e in derive(before, after)] == [EventName.APPOINTMENT_CONFIRMED]


def test_the_confirmed_extension_appearing_is_appointment_confirmed_even_if_already_accepted() -> None:
    before = _appointment(participant_status="accepted", version="1")
    after = _appointment(participant_status="accepted", version="2", confirmed=True)
    [event] = derive(before, after)
    assert (event.name, event.patient) == (EventName.APPOINTMENT_CONFIRMED, "Patient/p1")


def test_an_appointment_created_accepted_is_booked_not_confirmed() -> None:
    created = _appointment(participant_status="accepted", version="1")
    assert [e.name for e in derive(None, created)] == [EventName.APPOINTMENT_BOOKED]
