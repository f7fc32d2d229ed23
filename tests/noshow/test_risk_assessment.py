"""Each booked Appointment gets one RiskAssessment, with its probability, band and driving factors."""

from __future__ import annotations

from tests.fixtures.journeys import Clinic, at


async def test_a_booking_gets_one_risk_assessment_even_when_its_event_is_handled_twice(clinic: Clinic) -> None:
    from tests.fixtures.stores import TESTS

    from fhircrm.noshow.assess import assess_appointment
    from fhircrm.stores import open_store

    patient = await clinic.patient(birthDate="2008-05-01")
    booked = await clinic.appointment(patient, start=at(20, 15))
    await clinic.process_events()
    async with clinic.engine.begin() as conn:
        await assess_appointment(
            open_store(conn, clinic.settings, policy=TESTS), booked, settings=clinic.settings, now=at(1, 9)
        )
    assessments = await clinic.search("RiskAssessment", subject=f"Patient/{patient['id']}")
    assert len(assessments) == 1
    prediction = assessments[0]["prediction"][0]
    assert 0 < prediction["probabilityDecimal"] < 1
    assert prediction["qualitativeRisk"]["coding"][0]["code"] in ("low", "moderate", "high")
    assert assessments[0]["note"][0]["text"].startswith("Top factors:")


async def test_a_patient_with_earlier_no_shows_is_rated_riskier(clinic: Clinic) -> None:
    reliable, unreliable = await clinic.patient(), await clinic.patient()
    for day in (2, 4, 6):
        await clinic.appointment(unreliable, start=at(day, 14), status="noshow", created=at(1, 9))
        await clinic.appointment(reliable, start=at(day, 14), status="fulfilled", created=at(1, 9))
    for patient in (reliable, unreliable):
        await clinic.appointment(patient, start=at(28, 14), created=at(10, 9))
    await clinic.process_events()
    risk = {}
    for patient in (reliable, unreliable):
        found = await clinic.search("RiskAssessment", subject=f"Patient/{patient['id']}")
        risk[patient["id"]] = found[0]["prediction"][0]["probabilityDecimal"]
    assert risk[unreliable["id"]] > risk[reliable["id"]]
