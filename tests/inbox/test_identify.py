"""Identification: a coordinator links an unknown sender's thread to a Patient, and the conversation goes on."""

from __future__ import annotations

from tests.channels.signatures_helpers import post_sms
from tests.channels.support import create, patient_body, read, search

STRANGER = "+15559990000"


async def _unknown_thread(web) -> str:
    await post_sms(web, "hi, it's Ana from my new phone", sender=STRANGER)
    [thread] = (await web.get("/api/inbox/threads")).json()["threads"]
    return thread["id"]


async def _identify_tasks(clean_engine, channel_settings) -> list[dict]:
    tasks = await search(clean_engine, channel_settings, "Task", [])
    return [t for t in tasks if t["code"]["coding"][0]["code"] == "identify-sender"]


async def test_linking_gives_the_thread_and_its_messages_the_patient_and_completes_identification(
    web, clean_engine, channel_settings
):
    patient = await create(clean_engine, channel_settings, patient_body(phone="+15551230001"))
    thread_id = await _unknown_thread(web)
    ref = f"Patient/{patient['id']}"
    linked = await web.post(f"/api/inbox/threads/{thread_id}/identify", json={"patient": ref})
    assert (linked.status_code, linked.json()["patient"], linked.json()["reason"]) == (200, ref, "general")
    [comm] = await search(clean_engine, channel_settings, "Communication", [])
    assert (comm["sender"], comm["subject"]) == ({"reference": ref}, {"reference": ref})
    [task] = await _identify_tasks(clean_engine, channel_settings)
    assert (task["status"], task["for"]) == ("completed", {"reference": ref})


async def test_after_linking_a_reply_goes_to_the_number_that_wrote(web, clean_engine, channel_settings):
    patient = await create(clean_engine, channel_settings, patient_body(phone="+15551230001"))
    thread_id = await _unknown_thread(web)
    await web.post(f"/api/inbox/threads/{thread_id}/identify", json={"patient": f"Patient/{patient['id']}"})
    sent = await web.post(f"/api/inbox/threads/{thread_id}/reply", json={"text": "Thanks Ana, noted."})
    assert sent.status_code == 200
    out = await read(clean_engine, channel_settings, "Communication", sent.json()["id"])
    assert (out["status"], out["recipient"]) == ("preparation", [{"reference": f"Patient/{patient['id']}"}])
    assert {"url": "http://fhircrm.org/StructureDefinition/channel-address", "valueString": STRANGER} in out[
        "extension"
    ]


async def test_a_second_message_from_the_same_unknown_sender_opens_no_second_identification(
    web, clean_engine, channel_settings
):
    await _unknown_thread(web)
    await post_sms(web, "hello?", sid="SM2", sender=STRANGER)
    assert len(await _identify_tasks(clean_engine, channel_settings)) == 1
    assert len((await web.get("/api/inbox/threads")).json()["threads"]) == 1


async def test_messages_after_linking_arrive_as_the_patients(web, clean_engine, channel_settings):
    patient = await create(clean_engine, channel_settings, patient_body(phone="+15551230001"))
    thread_id = await _unknown_thread(web)
    await web.post(f"/api/inbox/threads/{thread_id}/identify", json={"patient": f"Patient/{patient['id']}"})
    await post_sms(web, "one more thing", sid="SM2", sender=STRANGER)
    detail = (await web.get(f"/api/inbox/threads/{thread_id}")).json()
    assert [m["sender"] for m in detail["messages"]] == [f"Patient/{patient['id']}"] * 2


async def test_linking_to_a_patient_that_does_not_exist_is_refused_and_changes_nothing(
    web, clean_engine, channel_settings
):
    thread_id = await _unknown_thread(web)
    refused = await web.post(f"/api/inbox/threads/{thread_id}/identify", json={"patient": "Patient/nobody"})
    assert (refused.status_code, refused.json()["resourceType"]) == (422, "OperationOutcome")
    assert (await web.get(f"/api/inbox/threads/{thread_id}")).json()["patient"] is None
    assert [t["status"] for t in await _identify_tasks(clean_engine, channel_settings)] == ["requested"]


async def test_relinking_a_thread_to_another_patient_is_a_conflict(web, clean_engine, channel_settings):
    first = await create(clean_engine, channel_settings, patient_body(phone="+15551230001"))
    second = await create(clean_engine, channel_settings, patient_body(phone="+15551230002"))
    thread_id = await _unknown_thread(web)
    await web.post(f"/api/inbox/threads/{thread_id}/identify", json={"patient": f"Patient/{first['id']}"})
    clash = await web.post(f"/api/inbox/threads/{thread_id}/identify", json={"patient": f"Patient/{second['id']}"})
    assert clash.status_code == 409
    assert (await web.get(f"/api/inbox/threads/{thread_id}")).json()["patient"] == f"Patient/{first['id']}"


async def test_a_malformed_patient_reference_is_a_400(web):
    thread_id = await _unknown_thread(web)
    assert (await web.post(f"/api/inbox/threads/{thread_id}/identify", json={"patient": "Bob"})).status_code == 400
