"""Education content goes out in the patient's language, at the right moment, and never over the frequency cap."""

from __future__ import annotations

from tests.fixtures.populations import NOW, Writer

from fhircrm.config import Settings
from fhircrm.education import send_education
from fhircrm.education.library import catalog
from fhircrm.education.triggers import on_event
from fhircrm.events import DomainEvent, EventName

SMS = [{"url": "http://fhircrm.org/StructureDefinition/preferred-channel", "valueCode": "sms"}]


async def _patient(writer: Writer, lang: str = "en") -> dict:
    return await writer.patient(
        telecom=[{"system": "phone", "value": "+15551238888", "use": "mobile"}],
        extension=SMS,
        communication=[{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": lang}]}, "preferred": True}],
    )


def test_every_topic_has_english_and_spanish_text() -> None:
    from fhircrm.education.library import CONTENT_DIR

    for topic in catalog():
        assert (CONTENT_DIR / "en" / f"{topic}.j2").exists() and (CONTENT_DIR / "es" / f"{topic}.j2").exists()


async def test_content_is_sent_in_the_patients_language_with_the_education_purpose(writer: Writer) -> None:
    patient = await _patient(writer, "es")
    comm = await writer.run(
        lambda store: send_education(store, patient=patient["id"], topic="asthma", settings=writer.settings, now=NOW)
    )
    assert comm["status"] == "preparation"
    assert "inhalador" in comm["payload"][0]["contentString"]
    assert comm["reasonCode"][0]["coding"][0]["code"] == "education"


async def test_spanish_content_is_labelled_spanish(writer: Writer) -> None:
    patient = await _patient(writer, "es")
    comm = await writer.run(
        lambda store: send_education(store, patient=patient["id"], topic="asthma", settings=writer.settings, now=NOW)
    )
    assert comm["language"] == "es"


def test_every_channel_template_has_a_spanish_version() -> None:
    from fhircrm.channels.templates import TEMPLATE_DIR

    english = {p.name for p in (TEMPLATE_DIR / "en").glob("*.j2")}
    assert english <= {p.name for p in (TEMPLATE_DIR / "es").glob("*.j2")}


async def test_content_over_the_frequency_cap_is_recorded_but_not_sent(writer: Writer) -> None:
    settings = Settings(**{**writer.settings.model_dump(), "channels_daily_cap": 2})
    patient = await _patient(writer)
    statuses = []
    for topic in ("asthma", "diabetes", "hypertension"):
        comm = await writer.run(
            lambda store, topic=topic: send_education(
                store, patient=patient["id"], topic=topic, settings=settings, now=NOW
            )
        )
        statuses.append(comm["status"])
    assert statuses == ["preparation", "preparation", "not-done"]


async def test_a_completed_visit_sends_warning_signs_and_the_chronic_care_content_once(writer: Writer) -> None:
    patient = await _patient(writer)
    await writer.condition(patient, "44054006")
    ref = f"Patient/{patient['id']}"
    event = DomainEvent(name=EventName.VISIT_COMPLETED, subject="Encounter/e1", version="1", patient=ref)
    first = await writer.run(lambda store: on_event(store, event, writer.settings))
    again = await writer.run(lambda store: on_event(store, event, writer.settings))
    assert sorted(c["topic"]["text"] for c in first) == ["education:diabetes", "education:warning-signs"]
    assert [c["id"] for c in again] == [c["id"] for c in first]  # deduplicated: the same Communications


async def test_a_visit_completed_by_its_appointment_and_its_encounter_sends_the_warning_signs_once(
    writer: Writer,
) -> None:
    # An EHR marks the Appointment fulfilled and finishes its Encounter: two VisitCompleted events of one visit.
    ref = f"Patient/{(await _patient(writer))['id']}"
    by_appointment = DomainEvent(name=EventName.VISIT_COMPLETED, subject="Appointment/a1", version="2", patient=ref)
    by_encounter = DomainEvent(
        name=EventName.VISIT_COMPLETED,
        subject="Encounter/e1",
        version="1",
        patient=ref,
        data={"appointment": "Appointment/a1"},
    )
    first = await writer.run(lambda store: on_event(store, by_appointment, writer.settings))
    second = await writer.run(lambda store: on_event(store, by_encounter, writer.settings))
    assert [c["id"] for c in second] == [c["id"] for c in first]
    assert len(await writer.search("Communication", ("subject", ref))) == 1
