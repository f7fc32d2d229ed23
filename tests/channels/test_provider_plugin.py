"""A provider added from outside the server (tests/fixtures/providers/acme_sms), plugged in by settings only:
the outbox delivers an SMS through it, its signed webhooks bring back the receipt and the patient's reply."""

from __future__ import annotations

import json

import httpx
import pytest
import respx
from tests.channels.support import TWILIO, read, search, settings_for
from tests.channels.test_outbound_providers import _send as send_through_outbox
from tests.fixtures.providers.acme_sms.webhooks import signature

from fhircrm.channels.providers import provider_for
from fhircrm.config import Settings

ACME = {"api_base": "https://sms.acme.test", "api_key": "acme-key", "sender": "+15005550100", "webhook_secret": "s3"}
PHONE = "+15551230001"


@pytest.fixture
def channel_settings(database_url: str) -> Settings:
    """The channel app's settings (conftest's ``web`` serves them) with Acme plugged in. Twilio is configured too:
    the added provider comes first in the list, so it takes SMS."""
    return settings_for(
        database_url,
        **TWILIO,
        channel_providers=["tests.fixtures.providers.acme_sms:PROVIDER"],
        channel_provider_options={"acme": ACME},
    )


async def post_acme(web: httpx.AsyncClient, path: str, event: dict, secret: str = ACME["webhook_secret"]):
    body = json.dumps(event).encode()
    headers = {"X-Acme-Signature": signature(body, secret), "Content-Type": "application/json"}
    return await web.post(f"/channels/acme/{path}", content=body, headers=headers)


def test_the_added_provider_is_chosen_for_its_channel_only(channel_settings):
    assert provider_for(channel_settings, "sms") == "acme"
    assert provider_for(channel_settings, "voice") == "twilio-voice"
    unconfigured = channel_settings.model_copy(update={"channel_provider_options": {}})
    assert provider_for(unconfigured, "sms") == "twilio"


@respx.mock
async def test_an_sms_goes_out_through_the_added_provider_and_its_receipt_and_reply_come_back(
    web, clean_engine, channel_settings
):
    route = respx.post("https://sms.acme.test/v1/sms").respond(202, json={"message_id": "acme-42"})
    comm = await send_through_outbox(clean_engine, channel_settings, "sms", phone=PHONE)
    request = route.calls.last.request
    sent = json.loads(request.content)
    assert request.headers["Authorization"] == "Bearer acme-key"
    assert (sent["to"], sent["from"], sent["text"]) == (PHONE, ACME["sender"], comm["payload"][0]["contentString"])
    assert comm["status"] == "in-progress"
    assert "acme:acme-42" in [i["value"] for i in comm["identifier"]]

    receipt = {"message_id": "acme-42", "client_ref": sent["client_ref"], "status": "DELIVRD"}
    assert (await post_acme(web, "receipts", receipt, secret="wrong")).status_code == 403
    assert (await read(clean_engine, channel_settings, "Communication", comm["id"]))["status"] == "in-progress"
    assert (await post_acme(web, "receipts", receipt)).status_code == 200
    assert (await read(clean_engine, channel_settings, "Communication", comm["id"]))["status"] == "completed"

    reply = {"message_id": "acme-in-1", "from": PHONE, "text": "where do I park?"}
    assert (await post_acme(web, "inbound", reply)).json() == {"received": True}
    [inbound] = await search(clean_engine, channel_settings, "Communication", [("sender:missing", "false")])
    assert inbound["sender"] == comm["recipient"][0]
    thread_id = inbound["partOf"][0]["reference"].split("/")[1]
    detail = (await web.get(f"/api/inbox/threads/{thread_id}")).json()
    assert [m["text"] for m in detail["messages"]] == ["where do I park?"]
    assert (await post_acme(web, "inbound", reply)).json() == {"received": False}  # a replay
