"""A no-show opens recovery: reschedule outreach within hours, and a Task when nobody answered in 48 hours."""

from __future__ import annotations

from datetime import timedelta

from tests.fixtures.journeys import Clinic, at

from fhircrm.clock import current_time


async def test_a_no_show_gets_reschedule_outreach_and_then_a_task(clinic: Clinic) -> None:
    patient = await clinic.patient()
    booked = await clinic.appointment(patient, start=at(20, 15))
    await clinic.process_events()
    await clinic.change(booked, status="noshow")
    await clinic.process_events()
    now = current_time(clinic.settings)
    await clinic.sweep(now + timedelta(hours=24))  # within hours, moved into the local day
    outreach = await clinic.search("Communication", **{"based-on": f"Appointment/{booked['id']}"})
    assert len(outreach) == 1
    assert await clinic.search("Task", code="reschedule") == []
    await clinic.sweep(now + timedelta(hours=49))
    tasks = await clinic.search("Task", code="reschedule", patient=f"Patient/{patient['id']}")
    assert len(tasks) == 1 and tasks[0]["status"] == "requested"


async def test_a_patient_who_rebooked_gets_no_reschedule_task(clinic: Clinic) -> None:
    patient = await clinic.patient()
    booked = await clinic.appointment(patient, start=at(20, 15))
    await clinic.process_events()
    await clinic.change(booked, status="noshow")
    await clinic.process_events()
    await clinic.appointment(patient, start=at(27, 15))
    await clinic.process_events()
    await clinic.sweep(current_time(clinic.settings) + timedelta(hours=49))
    assert await clinic.search("Task", code="reschedule") == []
