"""Twilio webhooks: signatures checked, replays ignored, replies understood, receipts recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.channels.support import NOON, REMINDER, TWILIO, create, patient_body, read, search
from tests.fixtures.stores import TESTS

from fhircrm.channels import queue_message
from fhircrm.channels.signatures import twilio_signature
from fhircrm.config import Settings
from fhircrm.jobs.queue import counts
from fhircrm.stores import open_store

PHONE = "+15551230001"


async def post_twilio(web: httpx.AsyncClient, path: str, form: dict, *, token: str = TWILIO["twilio_auth_token"]):
    signature = twilio_signature(f"https://crm.example.org{path}", form.items(), token)
    return await web.post(path, data=form, headers={"X-Twilio-Signature": signature})


def sms(body: str, sid: str = "SM00000000000000000000000000000001", sender: str = PHONE) -> dict:
    return {"MessageSid": sid, "From": sender, "To": TWILIO["twilio_sms_from"], "Body": body, "NumMedia": "0"}


async def _appointment(engine: AsyncEngine, settings: Settings, patient_id: str, days: int) -> dict:
    start = datetime.now(UTC) + timedelta(days=days)
    return await create(
        engine,
        settings,
        {
            "resourceType": "Appointment",
            "status": "booked",
            "start": start.isoformat(timespec="seconds"),
            "end": (start + timedelta(minutes=30)).isoformat(timespec="seconds"),
            "participant": [{"actor": {"reference": f"Patient/{patient_id}"}, "status": "needs-action"}],
        },
    )


async def test_a_bad_signature_is_refused_and_nothing_is_stored(web, clean_engine, channel_settings):
    await create(clean_engine, channel_settings, patient_body(phone=PHONE))
    response = await post_twilio(web, "/channels/twilio/messages", sms("hello"), token="wrong-token")
    assert response.status_code == 403
    assert await search(clean_engine, channel_settings, "Communication", []) == []


async def test_a_missing_signature_is_refused(web, clean_engine, channel_settings):
    response = await web.post("/channels/twilio/messages", data=sms("hello"))
    assert response.status_code == 403
    assert await search(clean_engine, channel_settings, "Communication", []) == []


async def test_a_replayed_message_is_taken_in_once(web, clean_engine, channel_settings):
    await create(clean_engine, channel_settings, patient_body(phone=PHONE))
    for _ in range(2):
        assert (await post_twilio(web, "/channels/twilio/messages", sms("where do I park?"))).status_code == 200
    assert len(await search(clean_engine, channel_settings, "Communication", [])) == 1


async def test_free_text_from_a_known_patient_lands_in_an_inbox_thread(web, clean_engine, channel_settings):
    patient = await create(clean_engine, channel_settings, patient_body(phone=PHONE))
    await post_twilio(web, "/channels/twilio/messages", sms("where do I park?"))
    [comm] = await search(clean_engine, channel_settings, "Communication", [])
    assert comm["sender"] == {"reference": f"Patient/{patient['id']}"}
    thread_id = comm["partOf"][0]["reference"].split("/")[1]
    detail = (await web.get(f"/api/inbox/threads/{thread_id}")).json()
    assert (detail["state"], detail["patient"]) == ("unread", f"Patient/{patient['id']}")
    assert detail["messages"][0]["text"] == "where do I park?"


async def test_an_unknown_sender_opens_a_thread_and_an_identify_sender_task(web, clean_engine, channel_settings):
    await post_twilio(web, "/channels/twilio/messages", sms("hi, it's me", sender="+15559990000"))
    [task] = [
        t
        for t in await search(clean_engine, channel_settings, "Task", [])
        if t["code"]["coding"][0]["code"] == "identify-sender"
    ]
    assert task["focus"]["reference"].startswith("Communication/")
    threads = (await web.get("/api/inbox/threads")).json()["threads"]
    assert [t["reason"] for t in threads] == ["identify-sender"]


async def test_an_sms_reply_c_confirms_the_appointment_the_reminder_was_about(web, clean_engine, channel_settings):
    patient = await create(clean_engine, channel_settings, patient_body(phone=PHONE))
    later = await _appointment(clean_engine, channel_settings, patient["id"], days=9)
    soon = await _appointment(clean_engine, channel_settings, patient["id"], days=2)
    reminder = await _queued(
        clean_engine,
        channel_settings,
        patient,
        about=[f"Appointment/{later['id']}"],
        topic=f"appointment:{later['id']}",
    )
    await _mark_sent(clean_engine, channel_settings, reminder)
    response = await post_twilio(web, "/channels/twilio/messages", sms("C"))
    assert response.status_code == 200
    confirmed = await read(clean_engine, channel_settings, "Appointment", later["id"])
    untouched = await read(clean_engine, channel_settings, "Appointment", soon["id"])
    assert confirmed["participant"][0]["status"] == "accepted"
    assert untouched["participant"][0]["status"] == "needs-action"
    reply = next(c for c in await search(clean_engine, channel_settings, "Communication", []) if c.get("sender"))
    assert reply["inResponseTo"] == [{"reference": f"Communication/{reminder['id']}"}]
    async with clean_engine.begin() as conn:
        assert (await counts(conn)).get(("domain-event", "pending"), 0) >= 1
    events = await _event_names(clean_engine)
    assert "AppointmentConfirmed" in events


async def test_a_reply_cancel_cancels_the_next_booked_appointment(web, clean_engine, channel_settings):
    patient = await create(clean_engine, channel_settings, patient_body(phone=PHONE))
    soon = await _appointment(clean_engine, channel_settings, patient["id"], days=2)
    await post_twilio(web, "/channels/twilio/messages", sms("Cancel"))
    cancelled = await read(clean_engine, channel_settings, "Appointment", soon["id"])
    assert cancelled["status"] == "cancelled"
    assert "AppointmentCancelled" in await _event_names(clean_engine)


async def test_stop_opts_the_patient_out_before_the_next_send(web, clean_engine, channel_settings):
    patient = await create(clean_engine, channel_settings, patient_body(phone=PHONE))
    await post_twilio(web, "/channels/twilio/messages", sms("STOP"))
    comm = await _queued(clean_engine, channel_settings, patient)
    assert (comm["status"], comm["statusReason"]["coding"][0]["code"]) == ("not-done", "opted-out")


async def test_start_after_stop_subscribes_again(web, clean_engine, channel_settings):
    patient = await create(clean_engine, channel_settings, patient_body(phone=PHONE))
    await post_twilio(web, "/channels/twilio/messages", sms("STOP", sid="SM1"))
    await post_twilio(web, "/channels/twilio/messages", sms("START", sid="SM2"))
    comm = await _queued(clean_engine, channel_settings, patient)
    assert comm["status"] == "preparation"


async def test_delivery_receipts_move_the_communication_to_completed(web, clean_engine, channel_settings):
    patient = await create(clean_engine, channel_settings, patient_body(phone=PHONE))
    comm = await _queued(clean_engine, channel_settings, patient)
    await _mark_sent(clean_engine, channel_settings, comm, sid="SMabc")
    form = {"MessageSid": "SMabc", "MessageStatus": "delivered", "To": PHONE}
    assert (await post_twilio(web, "/channels/twilio/status", form)).status_code == 200
    assert (await read(clean_engine, channel_settings, "Communication", comm["id"]))["status"] == "completed"


async def test_an_undelivered_receipt_sets_not_done_and_opens_a_delivery_failed_task(
    web, clean_engine, channel_settings
):
    patient = await create(clean_engine, channel_settings, patient_body(phone=PHONE))
    comm = await _queued(clean_engine, channel_settings, patient)
    await _mark_sent(clean_engine, channel_settings, comm, sid="SMdef")
    form = {"MessageSid": "SMdef", "MessageStatus": "undelivered", "ErrorCode": "30003"}
    await post_twilio(web, "/channels/twilio/status", form)
    after = await read(clean_engine, channel_settings, "Communication", comm["id"])
    assert (after["status"], after["statusReason"]["coding"][0]["code"]) == ("not-done", "undeliverable")
    [task] = await search(clean_engine, channel_settings, "Task", [("focus", f"Communication/{comm['id']}")])
    assert task["code"]["coding"][0]["code"] == "delivery-failed"


async def test_the_voice_menu_digit_1_confirms_and_3_asks_for_a_callback(web, clean_engine, channel_settings):
    patient = await create(clean_engine, channel_settings, patient_body(phone=PHONE))
    appointment = await _appointment(clean_engine, channel_settings, patient["id"], days=3)
    path = "/channels/twilio/voice/gather"
    form = {
        "CallSid": "CA1",
        "Digits": "1",
        "From": TWILIO["twilio_voice_from"],
        "To": PHONE,
        "Direction": "outbound-api",
    }
    response = await post_twilio(web, path, form)
    assert "confirmed" in response.text
    assert (await read(clean_engine, channel_settings, "Appointment", appointment["id"]))["participant"][0][
        "status"
    ] == "accepted"
    await post_twilio(web, path, {**form, "CallSid": "CA2", "Digits": "3"})
    tasks = await search(
        clean_engine, channel_settings, "Task", [("code", "http://fhircrm.org/CodeSystem/task-type|callback")]
    )
    assert len(tasks) == 1


async def _queued(engine: AsyncEngine, settings: Settings, patient: dict, **extra: object) -> dict:
    """An SMS appointment reminder for ``patient`` at noon (``extra``: about, topic, ...)."""
    async with engine.begin() as conn:
        return await queue_message(
            open_store(conn, settings, policy=TESTS),
            patient=f"Patient/{patient['id']}",
            template="appointment-reminder",
            purpose="appointment-reminders",
            context=REMINDER,
            channel="sms",
            settings=settings,
            now=NOON,
            **extra,
        )


async def _mark_sent(engine: AsyncEngine, settings: Settings, comm: dict, sid: str = "SMx") -> None:
    from fhircrm.channels import receipts
    from fhircrm.channels.model import SendResult

    async with engine.begin() as conn:
        store = open_store(conn, settings, policy=TESTS)
        current = (await store.read("Communication", comm["id"])).content
        await receipts.record_accepted(store, current, "twilio", SendResult(sid))


async def _event_names(engine: AsyncEngine) -> set[str]:
    import sqlalchemy as sa

    from fhircrm.jobs.tables import job

    async with engine.begin() as conn:
        rows = await conn.execute(sa.select(job.c.payload).where(job.c.kind == "domain-event"))
        return {row.payload["name"] for row in rows}
