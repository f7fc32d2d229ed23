"""Calls patients make to us: a TwiML menu in their language; 1 confirms, 2 cancels, 3 asks for a call back."""

from __future__ import annotations

from tests.channels.support import TWILIO, create, patient_body, read, search
from tests.channels.test_twilio_webhooks import _appointment, post_twilio

CALLER = "+15551230001"


def call(sid: str = "CA1", caller: str = CALLER, **extra: str) -> dict:
    return {"CallSid": sid, "From": caller, "To": TWILIO["twilio_voice_from"], "Direction": "inbound", **extra}


async def test_a_known_caller_hears_the_menu_in_their_language(web, clean_engine, channel_settings):
    await create(clean_engine, channel_settings, patient_body(phone=CALLER, lang="es"))
    response = await post_twilio(web, "/channels/twilio/voice/incoming", call())
    assert response.headers["content-type"].startswith("text/xml")
    assert '<Gather numDigits="1" action="https://crm.example.org/channels/twilio/voice/gather"' in response.text
    assert '<Say language="es-US">Gracias por llamar. Pulse 1' in response.text


async def test_pressing_1_on_an_incoming_call_confirms_the_next_appointment(web, clean_engine, channel_settings):
    patient = await create(clean_engine, channel_settings, patient_body(phone=CALLER))
    appointment = await _appointment(clean_engine, channel_settings, patient["id"], days=3)
    response = await post_twilio(web, "/channels/twilio/voice/gather", call(Digits="1"))
    assert "Your appointment is confirmed" in response.text
    confirmed = await read(clean_engine, channel_settings, "Appointment", appointment["id"])
    assert confirmed["participant"][0]["status"] == "accepted"


async def test_pressing_2_cancels_and_answers_in_spanish(web, clean_engine, channel_settings):
    patient = await create(clean_engine, channel_settings, patient_body(phone=CALLER, lang="es"))
    appointment = await _appointment(clean_engine, channel_settings, patient["id"], days=3)
    response = await post_twilio(web, "/channels/twilio/voice/gather", call(Digits="2"))
    assert "Su cita está cancelada" in response.text
    assert (await read(clean_engine, channel_settings, "Appointment", appointment["id"]))["status"] == "cancelled"


async def test_pressing_3_opens_a_callback_task_for_the_contact_center(web, clean_engine, channel_settings):
    patient = await create(clean_engine, channel_settings, patient_body(phone=CALLER))
    response = await post_twilio(web, "/channels/twilio/voice/gather", call(Digits="3"))
    assert "call you back" in response.text
    [task] = await search(clean_engine, channel_settings, "Task", [("code", "callback")])
    assert task["for"] == {"reference": f"Patient/{patient['id']}"}


async def test_an_unknown_caller_is_told_we_will_call_back_and_lands_in_the_inbox(web, clean_engine, channel_settings):
    response = await post_twilio(web, "/channels/twilio/voice/incoming", call(caller="+15559990000"))
    assert "could not find your number" in response.text and "<Gather" not in response.text
    [thread] = (await web.get("/api/inbox/threads")).json()["threads"]
    assert (thread["channel"], thread["reason"]) == ("voice", "identify-sender")


async def test_an_incoming_call_with_a_bad_signature_is_refused(web, clean_engine, channel_settings):
    response = await post_twilio(web, "/channels/twilio/voice/incoming", call(), token="wrong")
    assert response.status_code == 403
    assert await search(clean_engine, channel_settings, "Communication", []) == []
