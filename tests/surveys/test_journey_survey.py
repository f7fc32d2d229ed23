"""End to end: the appointment journey's post-visit survey goes out through fhircrm.surveys (signed link), and
the patient's SMS reply "2" is the survey's score, never a cancellation of their next appointment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.fixtures import factories
from tests.fixtures.populations import Writer

from fhircrm.channels.inbound import InboundMessage, InboundOutcome, receive
from fhircrm.clock import fhir_datetime
from fhircrm.config import Settings
from fhircrm.journeys.library import LIBRARY
from fhircrm.journeys.load import load_journeys
from fhircrm.surveys.codes import NPS_URL, TASK_TYPE_SYSTEM
from fhircrm.surveys.questionnaires import shipped

PHONE = "+15551230077"
DEMO_NPS = "http://fhircrm.org/Questionnaire/demo-nps"  # the Questionnaire the shipped journey names


def _appointment(patient: dict, start: datetime, status: str = "booked") -> dict:
    end = fhir_datetime(start + timedelta(minutes=30))
    return factories.appointment(status=status, start=fhir_datetime(start), end=end, patient=f"Patient/{patient['id']}")


async def _journey_survey(writer: Writer) -> tuple[dict, dict, dict, dict]:
    """A visit done two hours ago, the next one booked in a month; the journey's survey sent a day later."""
    nps = {k: v for k, v in shipped()[NPS_URL].items() if k != "id"}
    await writer.write({**nps, "url": DEMO_NPS})
    await writer.run(load_journeys)
    LIBRARY.invalidate()
    patient = await writer.patient(
        telecom=[{"system": "phone", "value": PHONE, "use": "mobile"}],
        extension=[{"url": "http://fhircrm.org/StructureDefinition/preferred-channel", "valueCode": "sms"}],
    )
    now = datetime.now(UTC).replace(microsecond=0)
    visit = await writer.write(_appointment(patient, now - timedelta(hours=2)))
    upcoming = await writer.write(_appointment(patient, now + timedelta(days=30)))
    await writer.drain()
    visit = await writer.write({**visit, "status": "fulfilled"})
    await writer.drain()  # VisitCompleted: the journey plans the instructions and the survey
    await writer.sweep(now + timedelta(days=1, hours=1))
    await writer.drain()
    (invitation,) = [
        c
        for c in await writer.search("Communication", ("recipient", f"Patient/{patient['id']}"))
        if str((c.get("topic") or {}).get("text", "")).startswith("survey:")
    ]
    return patient, visit, upcoming, invitation


async def test_a_journey_survey_invitation_carries_a_signed_link(journey_writer: Writer) -> None:
    _patient, visit, _upcoming, invitation = await _journey_survey(journey_writer)
    text = invitation["payload"][0]["contentString"]
    assert "/survey/" in text and "/fhir/Questionnaire?" not in text
    assert {"reference": f"Appointment/{visit['id']}"} in invitation["about"]


async def test_a_reply_of_2_to_a_journey_survey_scores_it_and_leaves_the_appointments_alone(
    journey_writer: Writer,
) -> None:
    writer = journey_writer
    patient, visit, upcoming, invitation = await _journey_survey(writer)
    outcome = await _reply(writer, invitation, "2", "SM-journey-2")
    await writer.drain()
    (response,) = await writer.search("QuestionnaireResponse", ("subject", f"Patient/{patient['id']}"))
    assert response["item"][0]["answer"] == [{"valueInteger": 2}]
    recovery = await writer.search("Task", ("code", f"{TASK_TYPE_SYSTEM}|service-recovery"))
    assert len(recovery) == 1
    assert outcome is not None and outcome.thread is None and outcome.appointment is None
    assert (await writer.read("Appointment", upcoming["id"]))["meta"]["versionId"] == upcoming["meta"]["versionId"]
    assert (await writer.read("Appointment", visit["id"]))["status"] == "fulfilled"


async def test_free_text_replying_to_a_survey_goes_to_a_person(journey_writer: Writer) -> None:
    writer = journey_writer
    _patient, _visit, upcoming, invitation = await _journey_survey(writer)
    outcome = await _reply(writer, invitation, "cancel", "SM-journey-txt")
    assert outcome is not None and outcome.thread is not None and outcome.appointment is None
    assert (await writer.read("Appointment", upcoming["id"]))["status"] == "booked"


async def _reply(writer: Writer, invitation: dict, text: str, provider_id: str) -> InboundOutcome | None:
    """The patient answers the invitation by SMS."""
    message = InboundMessage(
        channel="sms", provider="twilio", provider_id=provider_id, address=PHONE, text=text, replied_to=invitation["id"]
    )
    return await writer.run(lambda store: receive(store, writer.settings, message))


@pytest.fixture
def journey_writer(clean_engine: AsyncEngine, database_url: str) -> Writer:
    """A writer whose journeys are read fresh (no cache between loading and the visit)."""
    return Writer(clean_engine, Settings(environment="test", database_url=database_url))
