"""A provider added from outside the server (tests/fixtures/providers/acme_sms), plugged in by settings only:
the outbox delivers an SMS through it, its signed webhooks bring back the receipt and the patient's reply."""

from __future__ import annotations

import json

import httpx
import pytest
import respx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.channels.support import NOON, REMINDER, TWILIO, create, drain, patient_body, read, search, settings_for
from tests.fixtures.providers.acme_sms.webhooks import signature
from tests.fixtures.stores import TESTS

from fhircrm.app import create_app
from fhircrm.channels import queue_message
from fhircrm.channels.providers import provider_for
from fhircrm.config import Settings
from fhircrm.stores import open_store

ACME = {"api_base": "https://sms.acme.test", "api_key": "acme-key", "sender": "+15005550100", "webhook_secret": "s3"}
PHONE = "+15551230001"


@pytest.fixture
def acme_settings(database_url: str) -> Settings:
    """Twilio configured too: the added provider comes first in the list, so it takes SMS."""
    return settings_for(
        database_url,
        **TWILIO,
        channel_providers=["tests.fixtures.providers.acme_sms:PROVIDER"],
        channel_provider_options={"acme": ACME},
    )


@pytest.fixture
async def acme_web(clean_engine: AsyncEngine, acme_settings: Settings):
    app: FastAPI = create_app(acme_settings, migrate=False)
    app.state.engine = clean_engine
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def post_acme(web: httpx.AsyncClient, path: str, event: dict, secret: str = ACME["webhook_secret"]):
    body = json.dumps(event).encode()
    headers = {"X-Acme-Signature": signature(body, secret), "Content-Type": "application/json"}
    return await web.post(f"/channels/acme/{path}", content=body, headers=headers)


async def _queue_sms(engine: AsyncEngine, settings: Settings) -> dict:
    patient = await create(engine, settings, patient_body(phone=PHONE))
    async with engine.begin() as conn:
        return await queue_message(
            open_store(conn, settings, policy=TESTS),
            patient=patient["id"],
            template="appointment-reminder",
            purpose="appointment-reminders",
            context=REMINDER,
            channel="sms",
            settings=settings,
            now=NOON,
        )


def test_the_added_provider_is_chosen_for_its_channel_only(acme_settings):
    assert provider_for(acme_settings, "sms") == "acme"
    assert provider_for(acme_settings, "voice") == "twilio-voice"
    unconfigured = acme_settings.model_copy(update={"channel_provider_options": {}})
    assert provider_for(unconfigured, "sms") == "twilio"


@respx.mock
async def test_an_sms_goes_out_through_the_added_provider_and_its_receipt_and_reply_come_back(
    acme_web, clean_engine, acme_settings
):
    route = respx.post("https://sms.acme.test/v1/sms").respond(202, json={"message_id": "acme-42"})
    comm = await _queue_sms(clean_engine, acme_settings)
    async with httpx.AsyncClient() as http:
        await drain(clean_engine, acme_settings, http)
    request = route.calls.last.request
    sent = json.loads(request.content)
    assert request.headers["Authorization"] == "Bearer acme-key"
    assert (sent["to"], sent["from"], sent["text"]) == (PHONE, ACME["sender"], comm["payload"][0]["contentString"])
    accepted = await read(clean_engine, acme_settings, "Communication", comm["id"])
    assert accepted["status"] == "in-progress"
    assert {"system": "http://fhircrm.org/identifier/provider-message-id", "value": "acme:acme-42"} in accepted[
        "identifier"
    ]

    receipt = {"message_id": "acme-42", "client_ref": sent["client_ref"], "status": "DELIVRD"}
    assert (await post_acme(acme_web, "receipts", receipt, secret="wrong")).status_code == 403
    assert (await read(clean_engine, acme_settings, "Communication", comm["id"]))["status"] == "in-progress"
    assert (await post_acme(acme_web, "receipts", receipt)).status_code == 200
    assert (await read(clean_engine, acme_settings, "Communication", comm["id"]))["status"] == "completed"

    reply = {"message_id": "acme-in-1", "from": PHONE, "text": "where do I park?"}
    assert (await post_acme(acme_web, "inbound", reply)).json() == {"received": True}
    [inbound] = await search(clean_engine, acme_settings, "Communication", [("sender:missing", "false")])
    assert inbound["sender"] == comm["recipient"][0]
    thread_id = inbound["partOf"][0]["reference"].split("/")[1]
    detail = (await acme_web.get(f"/api/inbox/threads/{thread_id}")).json()
    assert [m["text"] for m in detail["messages"]] == ["where do I park?"]
    assert (await post_acme(acme_web, "inbound", reply)).json() == {"received": False}  # a replay
