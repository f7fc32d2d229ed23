"""Resource changes become the domain events a clinic would name."""

from __future__ import annotations

from tests.fixtures import factories

from fhircrm.events import EventName, derive


def appointment(status: str, *, start: str = "2026-12-01T09:00:00Z", version: str = "1") -> dict:
    return factories.appointment(id="a1", status=status, start=start, patient="Patient/p1", meta={"versionId": version})


def test_a_new_booked_appointment_is_booked_for_its_patient() -> None:
    [event] = derive(None, appointment("booked"))
    assert event.name is EventName.APPOINTMENT_BOOKED
    assert (event.subject, event.patient, event.version) == ("Appointment/a1", "Patient/p1", "1")


def test_status_changes_name_cancellation_no_show_and_completed_visit() -> None:
    booked = appointment("booked")
    assert [e.name for e in derive(booked, appointment("cancelled", version="2"))] == [EventName.APPOINTMENT_CANCELLED]
    assert [e.name for e in derive(booked, appointment("noshow", version="2"))] == [EventName.APPOINTMENT_NO_SHOW]
    assert [e.name for e in derive(booked, appointment("fulfilled", version="2"))] == [EventName.VISIT_COMPLETED]


def test_a_moved_booked_appointment_is_rescheduled_and_an_unchanged_one_says_nothing() -> None:
    booked = appointment("booked")
    moved = appointment("booked", start="2026-12-03T09:00:00Z", version="2")
    [event] = derive(booked, moved)
    assert event.name is EventName.APPOINTMENT_RESCHEDULED
    assert event.data["previous_start"] == "2026-12-01T09:00:00Z"
    assert derive(booked, appointment("booked", version="2")) == []


def test_an_inbound_message_is_received_and_an_outbound_one_is_not() -> None:
    inbound = {
        "resourceType": "Communication",
        "id": "c1",
        "status": "completed",
        "sender": {"reference": "Patient/p1"},
    }
    outbound = {
        "resourceType": "Communication",
        "id": "c2",
        "status": "completed",
        "recipient": [{"reference": "Patient/p1"}],
        "sender": {"reference": "Organization/clinic"},
    }
    assert [e.name for e in derive(None, inbound)] == [EventName.MESSAGE_RECEIVED]
    assert derive(None, outbound) == []


def test_a_final_result_and_a_referral_are_events_once() -> None:
    report = {"resourceType": "DiagnosticReport", "id": "r1", "status": "final", "subject": {"reference": "Patient/p1"}}
    assert [e.name for e in derive({**report, "status": "preliminary"}, report)] == [EventName.RESULT_FINAL]
    assert derive(report, report) == []
    referral = {
        "resourceType": "ServiceRequest",
        "id": "s1",
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/p1"},
        "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "3457005"}]}],
    }
    assert [e.name for e in derive(None, referral)] == [EventName.REFERRAL_CREATED]


def test_deletions_and_unrelated_types_derive_nothing() -> None:
    assert derive(appointment("booked"), None) == []
    assert derive(None, {"resourceType": "Organization", "id": "o1"}) == []
