"""A survey is sent on the patient's channel, answered by link or by SMS reply, and a low score becomes a Task."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
from tests.fixtures.populations import NOW, Writer

from fhircrm.channels.inbound import InboundMessage, receive
from fhircrm.surveys import send_survey
from fhircrm.surveys.codes import NPS_URL, TASK_TYPE_SYSTEM, TOUCHPOINT_SYSTEM

PHONE = "+15551230001"


async def _patient(writer: Writer, phone: str = PHONE) -> dict:
    return await writer.patient(
        telecom=[{"system": "phone", "value": phone, "use": "mobile"}],
        extension=[{"url": "http://fhircrm.org/StructureDefinition/preferred-channel", "valueCode": "sms"}],
    )


async def _invite(writer: Writer, patient: dict, now=NOW, touchpoint: str = "post-visit"):  # type: ignore[no-untyped-def]
    return await writer.run(
        lambda store: send_survey(
            store,
            patient=patient["id"],
            questionnaire_url=NPS_URL,
            touchpoint=touchpoint,
            settings=writer.settings,
            now=now,
        )
    )


async def _recovery_tasks(writer: Writer) -> list[dict]:
    return await writer.search("Task", ("code", f"{TASK_TYPE_SYSTEM}|service-recovery"))


async def test_a_survey_invitation_goes_out_on_the_patients_channel_with_a_signed_link(writer: Writer) -> None:
    outcome = await _invite(writer, await _patient(writer))
    comm = outcome.communication
    assert comm["status"] == "preparation"
    assert any(c["code"] == "sms" for cat in comm["category"] for c in cat["coding"])
    assert outcome.link in comm["payload"][0]["contentString"]
    assert urlsplit(outcome.link).path.startswith("/survey/")


async def test_answering_by_link_stores_a_tagged_response_and_a_low_score_opens_a_recovery_task(
    writer: Writer, client: httpx.AsyncClient
) -> None:
    outcome = await _invite(writer, await _patient(writer))
    path = urlsplit(outcome.link).path
    form = await client.get(f"http://testserver{path}")
    assert form.status_code == 200 and 'name="nps"' in form.text
    answered = await client.post(f"http://testserver{path}", data={"nps": "3", "comment": "Long wait"})
    assert answered.status_code == 201
    (response,) = await writer.search("QuestionnaireResponse", ("_tag", f"{TOUCHPOINT_SYSTEM}|post-visit"))
    assert response["item"][0]["answer"] == [{"valueInteger": 3}]
    await writer.drain()
    (task,) = await _recovery_tasks(writer)
    assert task["focus"]["reference"] == f"QuestionnaireResponse/{response['id']}"
    assert task["for"] == response["subject"]


async def test_a_link_answers_only_once(writer: Writer, client: httpx.AsyncClient) -> None:
    outcome = await _invite(writer, await _patient(writer))
    url = f"http://testserver{urlsplit(outcome.link).path}"
    assert (await client.post(url, data={"nps": "10"})).status_code == 201
    again = await client.post(url, data={"nps": "0"})
    assert again.status_code == 409 and again.json()["resourceType"] == "OperationOutcome"
    assert len(await writer.search("QuestionnaireResponse")) == 1


async def test_a_forged_link_is_refused_and_nothing_is_written(writer: Writer, client: httpx.AsyncClient) -> None:
    outcome = await _invite(writer, await _patient(writer))
    path = urlsplit(outcome.link).path
    forged = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    response = await client.post(f"http://testserver{forged}", data={"nps": "9"})
    assert response.status_code == 404
    assert await writer.search("QuestionnaireResponse") == []


async def test_an_out_of_range_score_is_refused_and_nothing_is_written(
    writer: Writer, client: httpx.AsyncClient
) -> None:
    outcome = await _invite(writer, await _patient(writer))
    response = await client.post(f"http://testserver{urlsplit(outcome.link).path}", data={"nps": "11"})
    assert response.status_code == 422
    assert await writer.search("QuestionnaireResponse") == []


async def test_an_sms_reply_with_a_number_answers_the_survey_and_a_low_one_opens_a_task(writer: Writer) -> None:
    patient = await _patient(writer)
    outcome = await _invite(writer, patient)
    await writer.drain()  # delivered by the local channel
    message = InboundMessage(
        channel="sms",
        provider="twilio",
        provider_id="SM1",
        address=PHONE,
        text=" 2 ",
        replied_to=outcome.communication["id"],
    )
    await writer.run(lambda store: receive(store, writer.settings, message))
    await writer.drain()
    (response,) = await writer.search("QuestionnaireResponse", ("subject", f"Patient/{patient['id']}"))
    assert response["item"] == [{"linkId": "nps", "text": response["item"][0]["text"], "answer": [{"valueInteger": 2}]}]
    assert response["meta"]["tag"][0]["code"] == "post-visit"
    assert len(await _recovery_tasks(writer)) == 1


async def test_a_high_score_with_a_worrying_comment_still_opens_an_urgent_task(
    writer: Writer, client: httpx.AsyncClient
) -> None:
    outcome = await _invite(writer, await _patient(writer))
    data = {"nps": "9", "comment": "Nice staff but the nurse gave me the wrong medication"}
    await client.post(f"http://testserver{urlsplit(outcome.link).path}", data=data)
    await writer.drain()
    (task,) = await _recovery_tasks(writer)
    assert task["priority"] == "urgent"


async def test_a_good_score_opens_no_task(writer: Writer, client: httpx.AsyncClient) -> None:
    outcome = await _invite(writer, await _patient(writer))
    await client.post(f"http://testserver{urlsplit(outcome.link).path}", data={"nps": "10", "comment": "Great"})
    await writer.drain()
    assert await _recovery_tasks(writer) == []


async def test_no_second_survey_within_the_fatigue_window(writer: Writer) -> None:
    # the window is read from when messages were written (the wall clock), so this test lives in the present
    today = datetime.now(UTC).replace(hour=16, minute=0, second=0, microsecond=0)
    patient = await _patient(writer)
    await _invite(writer, patient, now=today)
    second = await _invite(writer, patient, now=today + timedelta(days=2))
    assert second.skipped == "recent-survey" and second.communication is None


async def test_no_survey_while_the_patient_has_an_open_complaint(writer: Writer) -> None:
    patient = await _patient(writer)
    await writer.write(
        {
            "resourceType": "Task",
            "status": "in-progress",
            "intent": "order",
            "code": {"coding": [{"system": TASK_TYPE_SYSTEM, "code": "complaint"}]},
            "for": {"reference": f"Patient/{patient['id']}"},
        }
    )
    outcome = await _invite(writer, patient)
    assert outcome.skipped == "open-complaint"
