"""Meta WhatsApp webhooks, inbound e-mail and web forms: signatures or secrets, replays, landing in the inbox."""

from __future__ import annotations

import json

from tests.channels.conftest import META, SECRET
from tests.channels.support import create, patient_body, search

from fhircrm.channels.signatures import meta_signature

PHONE = "+15551230001"


def whatsapp(text: str, wamid: str = "wamid.IN1") -> bytes:
    message = {
        "from": PHONE.lstrip("+"),
        "id": wamid,
        "timestamp": "1900000000",
        "type": "text",
        "text": {"body": text},
    }
    value = {"messaging_product": "whatsapp", "messages": [message]}
    return json.dumps({"object": "whatsapp_business_account", "entry": [{"changes": [{"value": value}]}]}).encode()


async def post_meta(web, body: bytes, secret: str = META["meta_app_secret"]):
    headers = {"X-Hub-Signature-256": meta_signature(body, secret), "Content-Type": "application/json"}
    return await web.post("/channels/meta/webhook", content=body, headers=headers)


async def test_meta_verification_echoes_the_challenge_only_with_our_token(web):
    ok = await web.get(
        "/channels/meta/webhook",
        params={"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "42"},
    )
    bad = await web.get(
        "/channels/meta/webhook", params={"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "42"}
    )
    assert (ok.status_code, ok.text, bad.status_code) == (200, "42", 403)


async def test_a_meta_message_with_a_valid_signature_is_taken_in_once(web, clean_engine, channel_settings):
    patient = await create(clean_engine, channel_settings, patient_body(phone=PHONE))
    for _ in range(2):
        assert (await post_meta(web, whatsapp("can I bring my son?"))).status_code == 200
    [comm] = await search(clean_engine, channel_settings, "Communication", [])
    assert comm["sender"] == {"reference": f"Patient/{patient['id']}"}
    assert comm["category"][0]["coding"][0]["code"] == "whatsapp"


async def test_a_meta_message_with_a_bad_signature_is_refused_and_nothing_stored(web, clean_engine, channel_settings):
    await create(clean_engine, channel_settings, patient_body(phone=PHONE))
    assert (await post_meta(web, whatsapp("hi"), secret="not-the-secret")).status_code == 403
    assert await search(clean_engine, channel_settings, "Communication", []) == []


async def test_an_inbound_email_with_the_secret_lands_in_the_inbox(web, clean_engine, channel_settings):
    await create(clean_engine, channel_settings, patient_body(email="ana@example.org"))
    form = {
        "from": "Ana <Ana@Example.org>",
        "subject": "Parking",
        "text": "Where do I park?",
        "headers": "Message-ID: <m1@mail>",
    }
    response = await web.post("/channels/email/inbound", data=form, headers={"X-Fhircrm-Secret": SECRET})
    assert response.json() == {"received": True}
    replay = await web.post("/channels/email/inbound", data=form, headers={"X-Fhircrm-Secret": SECRET})
    assert replay.json() == {"received": False}
    [thread] = (await web.get("/api/inbox/threads")).json()["threads"]
    assert (thread["channel"], thread["unread"]) == ("email", True)


async def test_an_inbound_email_without_or_with_a_wrong_secret_is_refused(web, clean_engine, channel_settings):
    form = {"from": "ana@example.org", "subject": "x", "text": "y"}
    missing = await web.post("/channels/email/inbound", data=form)
    wrong = await web.post("/channels/email/inbound", data=form, headers={"X-Fhircrm-Secret": "guess"})
    assert (missing.status_code, wrong.status_code) == (401, 403)
    assert await search(clean_engine, channel_settings, "Communication", []) == []


async def test_an_appointment_request_form_opens_an_appointment_thread(web, clean_engine, channel_settings):
    form = {
        "name": "Bea",
        "phone": "+15550001111",
        "message": "Knee pain",
        "preferred_time": "mornings",
        "submission_id": "f-1",
    }
    response = await web.post("/channels/forms/appointment-request", json=form, headers={"X-Fhircrm-Secret": SECRET})
    assert response.status_code == 200
    [thread] = (await web.get("/api/inbox/threads")).json()["threads"]
    assert thread["reason"] == "identify-sender"  # nobody on file with that number
    assert thread["channel"] == "webform"


async def test_a_form_without_contact_details_is_refused_and_nothing_stored(web, clean_engine, channel_settings):
    response = await web.post(
        "/channels/forms/contact", json={"name": "Bea", "message": "hi"}, headers={"X-Fhircrm-Secret": SECRET}
    )
    assert response.status_code == 422
    assert await search(clean_engine, channel_settings, "Communication", []) == []
