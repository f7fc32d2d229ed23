"""The inbox API: threads with owner, state and SLA clocks; reply, escalate, close; catch up with a cursor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.channels.signatures_helpers import post_sms
from tests.channels.support import create, drain, patient_body, search

PHONE = "+15551230001"


async def _thread(web, clean_engine, channel_settings, text: str = "where do I park?") -> tuple[dict, str]:
    patient = await create(clean_engine, channel_settings, patient_body(phone=PHONE))
    await post_sms(web, text)
    [thread] = (await web.get("/api/inbox/threads")).json()["threads"]
    return patient, thread["id"]


async def test_a_new_thread_is_unread_waiting_and_has_sla_clocks(web, clean_engine, channel_settings):
    _, thread_id = await _thread(web, clean_engine, channel_settings)
    thread = (await web.get(f"/api/inbox/threads/{thread_id}")).json()
    assert (thread["unread"], thread["waiting"], thread["status"]) == (True, True, "open")
    due = datetime.fromisoformat(thread["sla"]["first_response_due"].replace("Z", "+00:00"))
    assert timedelta(minutes=230) < due - datetime.now(UTC) <= timedelta(minutes=240)
    assert thread["sla"]["first_response_breached"] is False


async def test_assigning_and_reading_a_thread_keeps_it_waiting_for_an_answer(web, clean_engine, channel_settings):
    _, thread_id = await _thread(web, clean_engine, channel_settings)
    change = {"owner": "Practitioner/p1", "team": "CareTeam/front-desk", "priority": "urgent", "read": True}
    thread = (await web.post(f"/api/inbox/threads/{thread_id}/update", json=change)).json()
    assert (thread["owner"], thread["team"], thread["priority"]) == ("Practitioner/p1", "CareTeam/front-desk", "urgent")
    assert (thread["unread"], thread["waiting"]) == (False, True)


async def test_a_reply_goes_out_through_the_outbox_and_stops_the_first_response_clock(
    web, clean_engine, channel_settings
):
    patient, thread_id = await _thread(web, clean_engine, channel_settings)
    sent = (await web.post(f"/api/inbox/threads/{thread_id}/reply", json={"text": "Level 2 of the garage."})).json()
    assert (sent["direction"], sent["status"]) == ("outbound", "preparation")
    thread = (await web.get(f"/api/inbox/threads/{thread_id}")).json()
    assert thread["state"] == "answered" and thread["sla"]["first_response_at"]
    await drain(clean_engine, channel_settings.model_copy(update={"twilio_account_sid": None}))
    [out] = [c for c in await search(clean_engine, channel_settings, "Communication", []) if not c.get("sender")]
    assert out["recipient"] == [{"reference": f"Patient/{patient['id']}"}]


async def test_escalation_creates_a_task_part_of_the_thread_which_stays_open(web, clean_engine, channel_settings):
    _, thread_id = await _thread(web, clean_engine, channel_settings)
    escalated = (
        await web.post(f"/api/inbox/threads/{thread_id}/escalate", json={"code": "complaint", "note": "upset"})
    ).json()
    thread = (await web.get(f"/api/inbox/threads/{thread_id}")).json()
    assert thread["status"] == "open" and len(thread["messages"]) == 1
    assert [f"Task/{e['id']}" for e in thread["escalations"]] == [escalated["task"]]


async def test_closing_requires_a_resolution_and_changes_nothing_without_one(web, clean_engine, channel_settings):
    _, thread_id = await _thread(web, clean_engine, channel_settings)
    refused = await web.post(f"/api/inbox/threads/{thread_id}/close", json={"resolution": "  "})
    assert refused.status_code == 422
    assert (await web.get(f"/api/inbox/threads/{thread_id}")).json()["status"] == "open"
    closed = (
        await web.post(f"/api/inbox/threads/{thread_id}/close", json={"resolution": "Told them where to park"})
    ).json()
    assert (closed["status"], closed["resolution"]) == ("closed", "Told them where to park")


async def test_catch_up_returns_what_changed_since_the_cursor(web, clean_engine, channel_settings):
    _, thread_id = await _thread(web, clean_engine, channel_settings)
    first = (await web.get("/api/inbox/changes")).json()
    assert [t["id"] for t in first["threads"]] == [thread_id]
    await post_sms(web, "also, is there a lift?", sid="SM2")
    later = (await web.get("/api/inbox/changes", params={"since": first["cursor"]})).json()
    assert "also, is there a lift?" in [m["text"] for m in later["messages"]]


async def test_a_bad_cursor_is_a_400(web):
    response = await web.get("/api/inbox/changes", params={"since": "yesterday"})
    assert response.status_code == 400
