"""The shipped appointment journey: confirmation at T-72h and reminder at T-24h, planned once, sent once."""

from __future__ import annotations

from datetime import timedelta

from tests.fixtures.journeys import Clinic, at

from fhircrm.clock import parse_fhir_datetime
from fhircrm.timers.resources import timer_key


def steps(requests: list[dict]) -> list[str]:
    return sorted((timer_key(r) or "").split(":")[1] for r in requests)


async def test_a_booking_plans_a_confirmation_and_a_reminder_timer(clinic: Clinic) -> None:
    patient = await clinic.patient()
    booked = await clinic.appointment(patient, start=at(20, 15))
    await clinic.process_events()
    timers = await clinic.search("CommunicationRequest", **{"based-on": f"Appointment/{booked['id']}"})
    assert steps(timers) == ["confirm", "remind"]
    due = {timer_key(t).split(":")[1]: parse_fhir_datetime(t["occurrenceDateTime"]) for t in timers}
    assert due["confirm"] == at(20, 15) - timedelta(hours=72)
    assert due["remind"] == at(20, 15) - timedelta(hours=24)


async def test_the_same_booking_event_twice_plans_nothing_new(clinic: Clinic) -> None:
    from fhircrm.events import DomainEvent, EventName
    from fhircrm.journeys.engine import on_event

    patient = await clinic.patient()
    booked = await clinic.appointment(patient, start=at(20, 15))
    await clinic.process_events()
    event = DomainEvent(
        name=EventName.APPOINTMENT_BOOKED,
        subject=f"Appointment/{booked['id']}",
        version=booked["meta"]["versionId"],
        patient=f"Patient/{patient['id']}",
    )
    async with clinic.engine.begin() as conn:
        await on_event(conn, event, settings=clinic.settings)
    timers = await clinic.search("CommunicationRequest", **{"based-on": f"Appointment/{booked['id']}"})
    assert steps(timers) == ["confirm", "remind"]


async def test_due_timers_are_sent_once_however_often_the_sweep_runs(clinic: Clinic) -> None:
    patient = await clinic.patient()
    booked = await clinic.appointment(patient, start=at(20, 15))
    await clinic.process_events()
    assert await clinic.sweep(at(17, 16)) == 1  # the confirmation is due, the reminder is not
    assert await clinic.sweep(at(17, 16)) == 0
    assert await clinic.sweep(at(19, 16)) == 1
    sent = await clinic.search("Communication", **{"based-on": f"Appointment/{booked['id']}"})
    assert len(sent) == 2
    done = await clinic.search("CommunicationRequest", status="completed")
    assert steps(done) == ["confirm", "remind"]


async def test_cancelling_an_appointment_revokes_its_pending_timers(clinic: Clinic) -> None:
    patient = await clinic.patient()
    booked = await clinic.appointment(patient, start=at(20, 15))
    await clinic.process_events()
    await clinic.change(booked, status="cancelled")
    await clinic.process_events()
    revoked = await clinic.search("CommunicationRequest", status="revoked")
    assert steps(revoked) == ["confirm", "remind"]
    await clinic.sweep(at(21, 12))
    for timer in revoked:
        assert await clinic.search("Communication", **{"based-on": f"CommunicationRequest/{timer['id']}"}) == []


async def test_rescheduling_replans_the_timers_for_the_new_start(clinic: Clinic) -> None:
    patient = await clinic.patient()
    booked = await clinic.appointment(patient, start=at(20, 15))
    await clinic.process_events()
    await clinic.change(booked, start="2031-06-25T15:00:00Z", end="2031-06-25T15:30:00Z")
    await clinic.process_events()
    active = await clinic.search("CommunicationRequest", status="active")
    assert steps(active) == ["confirm", "remind"]
    assert {parse_fhir_datetime(t["occurrenceDateTime"]) for t in active} == {at(22, 15), at(24, 15)}


async def test_a_reminder_that_would_fall_at_night_moves_into_the_patients_day(clinic: Clinic) -> None:
    patient = await clinic.patient(tz="America/Los_Angeles")
    booked = await clinic.appointment(patient, start=at(20, 15))  # 08:00 in Los Angeles
    await clinic.process_events()
    timers = await clinic.search("CommunicationRequest", **{"based-on": f"Appointment/{booked['id']}"})
    remind = next(t for t in timers if ":remind:" in timer_key(t))
    assert parse_fhir_datetime(remind["occurrenceDateTime"]) == at(19, 16)  # 09:00 the day before, local


async def test_a_booking_cancelled_before_its_events_run_leaves_its_reminders_revoked(clinic: Clinic) -> None:
    patient = await clinic.patient()
    booked = await clinic.appointment(patient, start=at(20, 15))
    await clinic.change(booked, status="cancelled")
    await clinic.process_events()  # both events in one batch: the plans are written before the revocation runs
    timers = await clinic.search("CommunicationRequest", **{"based-on": f"Appointment/{booked['id']}"})
    reminders = [t for t in timers if (timer_key(t) or "").startswith("appointment:")]
    assert sorted((steps([t]), t["status"]) for t in reminders) == [(["confirm"], "revoked"), (["remind"], "revoked")]


async def test_many_bookings_handled_in_one_batch_each_get_their_timers_and_one_risk_assessment(clinic: Clinic) -> None:
    patients = [await clinic.patient() for _ in range(5)]
    booked = [await clinic.appointment(p, start=at(20, 15)) for p in patients]
    await clinic.process_events()
    for appointment in booked:
        timers = await clinic.search("CommunicationRequest", **{"based-on": f"Appointment/{appointment['id']}"})
        assert steps(timers) == ["confirm", "remind"]
    assessments = await clinic.search("RiskAssessment")
    assert sorted(a["basis"][0]["reference"] for a in assessments) == sorted(f"Appointment/{a['id']}" for a in booked)


async def test_a_visit_completed_by_its_appointment_and_its_encounter_gets_its_post_visit_steps_once(
    clinic: Clinic,
) -> None:
    # The EHR marks the Appointment fulfilled and finishes its Encounter: two VisitCompleted events of one visit.
    # Keyed by each subject, the visit got its instructions and survey twice (a patient with five visits, ten).
    patient = await clinic.patient()
    visits = [await clinic.appointment(patient, start=at(day, 15)) for day in (10, 12)]
    for visit in visits:
        await clinic.change(visit, status="fulfilled")
        await clinic.write(
            {
                "resourceType": "Encounter",
                "status": "finished",
                "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                "subject": {"reference": f"Patient/{patient['id']}"},
                "appointment": [{"reference": f"Appointment/{visit['id']}"}],
            }
        )
    await clinic.process_events()
    await clinic.process_events()  # events seen again (a retried batch, a second start) plan nothing new either
    post_visit = [
        timer_key(t) for t in await clinic.search("CommunicationRequest") if ":instructions:" in (timer_key(t) or "")
    ]
    assert sorted(post_visit) == sorted(f"appointment:instructions:Appointment/{v['id']}:completed" for v in visits)
    surveys = [t for t in await clinic.search("CommunicationRequest") if ":survey:" in (timer_key(t) or "")]
    assert len(surveys) == len(visits)
