"""Meta WhatsApp status webhooks: delivery receipts move the outbound Communication forward, failures open a Task."""

from __future__ import annotations

import json

from tests.channels.support import NOON, REMINDER, create, patient_body, read, search
from tests.channels.test_meta_and_web_webhooks import post_meta
from tests.fixtures.stores import TESTS

from fhircrm.channels import queue_message, receipts
from fhircrm.channels.model import SendResult
from fhircrm.stores import open_store

WAMID = "wamid.OUT1"


def statuses(status: str, wamid: str = WAMID) -> bytes:
    item = {"id": wamid, "status": status, "timestamp": "1900000000", "recipient_id": "15551230001"}
    if status == "failed":
        item["errors"] = [{"code": 131026, "title": "Message undeliverable"}]
    value = {"messaging_product": "whatsapp", "statuses": [item]}
    return json.dumps({"object": "whatsapp_business_account", "entry": [{"changes": [{"value": value}]}]}).encode()


async def _sent_whatsapp(clean_engine, channel_settings) -> dict:
    patient = await create(clean_engine, channel_settings, patient_body(phone="+15551230001"))
    async with clean_engine.begin() as conn:
        store = open_store(conn, channel_settings, policy=TESTS)
        comm = await queue_message(
            store,
            patient=f"Patient/{patient['id']}",
            template="appointment-reminder",
            purpose="appointment-reminders",
            context=REMINDER,
            channel="whatsapp",
            settings=channel_settings,
            now=NOON,
        )
        return await receipts.record_accepted(store, comm, "meta", SendResult(WAMID))


async def test_a_delivered_status_completes_the_message(web, clean_engine, channel_settings):
    comm = await _sent_whatsapp(clean_engine, channel_settings)
    assert (await post_meta(web, statuses("delivered"))).status_code == 200
    assert (await read(clean_engine, channel_settings, "Communication", comm["id"]))["status"] == "completed"


async def test_a_failed_status_marks_the_message_not_done_and_opens_a_delivery_task(
    web, clean_engine, channel_settings
):
    comm = await _sent_whatsapp(clean_engine, channel_settings)
    await post_meta(web, statuses("failed"))
    failed = await read(clean_engine, channel_settings, "Communication", comm["id"])
    assert (failed["status"], failed["statusReason"]["coding"][0]["code"]) == ("not-done", "undeliverable")
    [task] = await search(clean_engine, channel_settings, "Task", [("code", "delivery-failed")])
    assert task["focus"] == {"reference": f"Communication/{comm['id']}"}


async def test_a_late_sent_status_does_not_move_a_delivered_message_back(web, clean_engine, channel_settings):
    comm = await _sent_whatsapp(clean_engine, channel_settings)
    await post_meta(web, statuses("read"))
    await post_meta(web, statuses("sent"))
    assert (await read(clean_engine, channel_settings, "Communication", comm["id"]))["status"] == "completed"


async def test_a_status_with_a_bad_signature_is_refused_and_changes_nothing(web, clean_engine, channel_settings):
    comm = await _sent_whatsapp(clean_engine, channel_settings)
    assert (await post_meta(web, statuses("delivered"), secret="wrong")).status_code == 403
    assert (await read(clean_engine, channel_settings, "Communication", comm["id"]))["status"] == "in-progress"
