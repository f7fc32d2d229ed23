"""Each provider adapter speaks its provider's real request format (faked at the HTTP boundary with respx),
and a real SMTP server on loopback receives e-mail."""

from __future__ import annotations

import base64
import email
import json
from urllib.parse import parse_qs

import httpx
import respx
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.channels.conftest import META
from tests.channels.support import NOON, REMINDER, TWILIO, create, drain, patient_body, read, search, settings_for
from tests.fixtures.stores import TESTS

from fhircrm.channels import queue_message
from fhircrm.config import Settings
from fhircrm.stores import open_store

SID = TWILIO["twilio_account_sid"]
MESSAGES = f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Messages.json"
CALLS = f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Calls.json"
GRAPH = f"https://graph.facebook.com/v19.0/{META['meta_whatsapp_phone_number_id']}/messages"


async def _send(
    engine: AsyncEngine, settings: Settings, channel: str, template: str = "appointment-reminder", **patient
) -> dict:
    record = await create(engine, settings, patient_body(**patient))
    async with engine.begin() as conn:
        comm = await queue_message(
            open_store(conn, settings, policy=TESTS),
            patient=record["id"],
            template=template,
            purpose="appointment-reminders",
            context=REMINDER,
            channel=channel,
            settings=settings,
            now=NOON,
        )
    async with httpx.AsyncClient() as http:
        await drain(engine, settings, http)
    return await read(engine, settings, "Communication", comm["id"])


def _form(request: httpx.Request) -> dict:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


@respx.mock
async def test_twilio_sms_is_a_form_post_with_basic_auth_and_a_status_callback(clean_engine, database_url):
    route = respx.post(MESSAGES).respond(201, json={"sid": "SM123", "status": "queued"})
    settings = settings_for(database_url, **TWILIO)
    comm = await _send(clean_engine, settings, "sms")
    request = route.calls.last.request
    form = _form(request)
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(f"{SID}:twilio-secret".encode()).decode()
    assert (form["To"], form["From"]) == ("+15551230001", TWILIO["twilio_sms_from"])
    assert form["Body"] == comm["payload"][0]["contentString"]
    assert form["StatusCallback"].startswith("https://crm.example.org/channels/twilio/status?attempt=")
    assert comm["status"] == "in-progress"
    assert {"system": "http://fhircrm.org/identifier/provider-message-id", "value": "twilio:SM123"} in comm[
        "identifier"
    ]


@respx.mock
async def test_twilio_whatsapp_prefixes_both_numbers(clean_engine, database_url):
    route = respx.post(MESSAGES).respond(201, json={"sid": "SM124", "status": "queued"})
    settings = settings_for(database_url, **TWILIO)
    await _send(clean_engine, settings, "whatsapp")
    form = _form(route.calls.last.request)
    assert (form["To"], form["From"]) == ("whatsapp:+15551230001", "whatsapp:" + TWILIO["twilio_whatsapp_from"])


@respx.mock
async def test_a_transient_twilio_failure_is_retried_and_sent_once(clean_engine, database_url):
    route = respx.post(MESSAGES).mock(
        side_effect=[httpx.Response(503), httpx.Response(201, json={"sid": "SM125", "status": "queued"})]
    )
    settings = settings_for(database_url, **TWILIO)
    comm = await _send(clean_engine, settings, "sms")
    assert comm["status"] == "preparation" and route.call_count == 1  # waiting for its backoff
    async with clean_engine.begin() as conn:
        import sqlalchemy as sa

        from fhircrm.jobs.tables import job

        await conn.execute(sa.update(job).values(run_at=sa.func.current_timestamp()))
    async with httpx.AsyncClient() as http:
        await drain(clean_engine, settings, http)
    assert route.call_count == 2
    assert (await read(clean_engine, settings, "Communication", comm["id"]))["status"] == "in-progress"


@respx.mock
async def test_an_invalid_number_sets_not_done_and_opens_a_task(clean_engine, database_url):
    respx.post(MESSAGES).respond(400, json={"code": 21211, "message": "Invalid 'To' Phone Number"})
    settings = settings_for(database_url, **TWILIO)
    comm = await _send(clean_engine, settings, "sms")
    assert (comm["status"], comm["statusReason"]["coding"][0]["code"]) == ("not-done", "undeliverable")
    tasks = await search(clean_engine, settings, "Task", [("focus", f"Communication/{comm['id']}")])
    assert [t["code"]["coding"][0]["code"] for t in tasks] == ["delivery-failed"]


@respx.mock
async def test_twilio_voice_posts_twiml_with_a_one_digit_gather(clean_engine, database_url):
    route = respx.post(CALLS).respond(201, json={"sid": "CA123", "status": "queued"})
    settings = settings_for(database_url, **TWILIO)
    comm = await _send(clean_engine, settings, "voice", template="confirmation-call")
    form = _form(route.calls.last.request)
    assert form["From"] == TWILIO["twilio_voice_from"]
    assert '<Gather numDigits="1"' in form["Twiml"]
    assert f"/channels/twilio/voice/gather?communication={comm['id']}" in form["Twiml"]
    assert "Press 1 to confirm, 2 to cancel, 3 to talk to someone" in form["Twiml"]


@respx.mock
async def test_meta_whatsapp_outside_the_window_sends_a_template(clean_engine, database_url):
    route = respx.post(GRAPH).respond(200, json={"messages": [{"id": "wamid.A"}]})
    settings = settings_for(database_url, **META)
    comm = await _send(clean_engine, settings, "whatsapp")
    request = route.calls.last.request
    body = json.loads(request.content)
    assert request.headers["Authorization"] == "Bearer meta-token"
    assert (body["messaging_product"], body["to"], body["type"]) == ("whatsapp", "15551230001", "template")
    assert body["template"]["name"] == "appointment_reminder"
    assert body["template"]["components"][0]["parameters"][0]["text"] == comm["payload"][0]["contentString"]


@respx.mock
async def test_meta_whatsapp_inside_the_window_sends_text(clean_engine, database_url):
    route = respx.post(GRAPH).respond(200, json={"messages": [{"id": "wamid.B"}]})
    settings = settings_for(database_url, **META)
    patient = await create(clean_engine, settings, patient_body())
    await create(
        clean_engine,
        settings,
        {
            "resourceType": "Communication",
            "status": "completed",
            "category": [{"coding": [{"system": "http://fhircrm.org/CodeSystem/channel", "code": "whatsapp"}]}],
            "sender": {"reference": f"Patient/{patient['id']}"},
            "received": _recent(),
        },
    )
    async with clean_engine.begin() as conn:
        await queue_message(
            open_store(conn, settings, policy=TESTS),
            patient=patient["id"],
            template="appointment-reminder",
            purpose="appointment-reminders",
            context=REMINDER,
            channel="whatsapp",
            settings=settings,
            now=NOON,
        )
    async with httpx.AsyncClient() as http:
        await drain(clean_engine, settings, http)
    body = json.loads(route.calls.last.request.content)
    assert body["type"] == "text" and body["text"]["body"].startswith("Hi Ana")


def _recent() -> str:
    from datetime import UTC, datetime, timedelta

    return (datetime.now(UTC) - timedelta(hours=1)).isoformat(timespec="seconds").replace("+00:00", "Z")


async def test_email_goes_through_a_real_smtp_server_with_text_and_html_parts(clean_engine, database_url, smtp_server):
    settings = settings_for(
        database_url, smtp_host=smtp_server.host, smtp_port=smtp_server.port, smtp_from="clinic@example.org"
    )
    comm = await _send(clean_engine, settings, "email", email="ana@example.org", phone=None)
    [received] = smtp_server.messages
    parsed = email.message_from_bytes(received["data"])
    assert received["to"] == ["ana@example.org"]
    assert parsed["Subject"] == "Reminder: your appointment on March 20"
    types = [part.get_content_type() for part in parsed.walk()]
    assert "text/plain" in types and "text/html" in types
    assert comm["status"] == "completed"


async def test_an_unreachable_smtp_server_is_retried_not_failed(clean_engine, database_url):
    from tests.fixtures.smtp import free_port

    settings = settings_for(database_url, smtp_host="127.0.0.1", smtp_port=free_port(), smtp_from="clinic@example.org")
    comm = await _send(clean_engine, settings, "email", email="ana@example.org", phone=None)
    assert comm["status"] == "preparation"
