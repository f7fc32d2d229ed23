"""Referral coordination: an unscheduled referral becomes a referral-follow-up Task on its ServiceRequest after
7 days (what the referral-leakage indicator and coordinators count); a referral that got an appointment does not.

Indicators (fhircrm.indicators.referrals) count leakage as active referral ServiceRequests without a fulfilled
Appointment whose basedOn names them; the journey's Task carries ``focus`` and ``basedOn`` = the ServiceRequest
and the code task-type|referral-follow-up, so both views meet on the same ServiceRequest."""

from __future__ import annotations

from datetime import timedelta

from tests.fixtures.journeys import Clinic, at

from fhircrm.clock import current_time

FOLLOW_UP = "http://fhircrm.org/CodeSystem/task-type|referral-follow-up"


async def referral(clinic: Clinic) -> tuple[dict, dict]:
    patient = await clinic.patient()
    request = await clinic.write(
        {
            "resourceType": "ServiceRequest",
            "status": "active",
            "intent": "order",
            "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "3457005"}]}],
            "subject": {"reference": f"Patient/{patient['id']}"},
            "authoredOn": "2031-06-01T10:00:00Z",
        }
    )
    await clinic.process_events()
    return patient, request


async def test_a_referral_still_unscheduled_after_seven_days_gets_a_follow_up_task_on_its_service_request(
    clinic: Clinic,
) -> None:
    _patient, request = await referral(clinic)
    await clinic.sweep(current_time(clinic.settings) + timedelta(days=7, hours=1))
    tasks = await clinic.search("Task", code=FOLLOW_UP, focus=f"ServiceRequest/{request['id']}")
    assert [(t["status"], t["priority"]) for t in tasks] == [("requested", "urgent")]
    assert tasks[0]["basedOn"] == [{"reference": f"ServiceRequest/{request['id']}"}]


async def test_a_referral_booked_within_seven_days_gets_no_follow_up_task(clinic: Clinic) -> None:
    patient, request = await referral(clinic)
    await clinic.appointment(patient, start=at(20, 15), basedOn=[{"reference": f"ServiceRequest/{request['id']}"}])
    await clinic.process_events()
    await clinic.sweep(current_time(clinic.settings) + timedelta(days=7, hours=1))
    assert await clinic.search("Task", code=FOLLOW_UP) == []
