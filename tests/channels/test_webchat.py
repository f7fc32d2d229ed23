"""Web chat: conversations opened with a signed token, messages into the inbox, staff replies back on the stream."""

from __future__ import annotations

import httpx
from pydantic import SecretStr
from tests.channels.sse import events, next_matching
from tests.channels.support import search

from fhircrm.channels import chat_tokens


async def _open(web: httpx.AsyncClient) -> str:
    response = await web.post("/channels/webchat/conversations")
    assert response.status_code == 201
    return response.json()["token"]


async def _say(web: httpx.AsyncClient, token: str, text: str, message_id: str = "msg-0001") -> httpx.Response:
    return await web.post(
        "/channels/webchat/messages",
        json={"id": message_id, "text": text},
        headers={"Authorization": f"Bearer {token}"},
    )


async def test_a_chat_message_with_a_conversation_token_opens_a_thread_the_inbox_can_answer(web):
    token = await _open(web)
    assert (await _say(web, token, "Are you open today?")).json()["received"] is True
    [thread] = (await web.get("/api/inbox/threads")).json()["threads"]
    assert (thread["channel"], thread["reason"]) == ("webchat", "identify-sender")
    answer = await web.post(f"/api/inbox/threads/{thread['id']}/reply", json={"text": "Yes, until 6pm."})
    assert answer.status_code == 200
    detail = (await web.get(f"/api/inbox/threads/{thread['id']}")).json()
    assert [m["direction"] for m in detail["messages"]] == ["inbound", "outbound"]


async def test_a_resent_chat_message_is_taken_in_once(web, clean_engine, channel_settings):
    token = await _open(web)
    assert [(await _say(web, token, "hello")).json()["received"] for _ in range(2)] == [True, False]
    assert len(await search(clean_engine, channel_settings, "Communication", [])) == 1


async def test_a_chat_message_without_a_token_or_with_a_forged_one_is_refused_and_nothing_stored(
    web, clean_engine, channel_settings
):
    token = await _open(web)
    session = token.split(".")[1]
    forged = chat_tokens.issue(
        channel_settings.model_copy(update={"channels_webchat_secret": SecretStr("guess")}), session
    )[0]
    missing = await web.post("/channels/webchat/messages", json={"id": "msg-0001", "text": "hi"})
    refused = await _say(web, forged, "hi")
    assert (missing.status_code, refused.status_code) == (401, 403)
    assert refused.json()["resourceType"] == "OperationOutcome"
    assert await search(clean_engine, channel_settings, "Communication", []) == []


def test_an_expired_conversation_token_no_longer_opens_the_conversation(channel_settings):
    token, _ = chat_tokens.issue(channel_settings, now=1_000_000)
    later = 1_000_000 + channel_settings.channels_webchat_token_days * 86400 + 1
    assert chat_tokens.verify(channel_settings, token, now=1_000_000 + 60) is not None
    assert chat_tokens.verify(channel_settings, token, now=later) is None


async def test_the_stream_refuses_a_forged_token(web):
    response = await web.get("/channels/webchat/stream", params={"token": "c1.abcdefghijklmnop.1.AAAA"})
    assert response.status_code == 403


async def test_the_chat_endpoints_answer_cors_preflight_for_embedding_sites(web):
    response = await web.options(
        "/channels/webchat/messages",
        headers={"Origin": "https://clinic.example", "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert "Authorization" in response.headers["access-control-allow-headers"]


async def test_the_stream_carries_the_patients_message_and_then_the_staff_reply_live(live):
    async with httpx.AsyncClient(base_url=live, timeout=15) as client:
        token = await _open(client)
        await _say(client, token, "Do you take walk-ins?")
        async with client.stream("GET", "/channels/webchat/stream", params={"token": token}) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            stream = events(response)
            mine = await next_matching(stream, lambda name, data: name == "message")
            assert (mine["from"], mine["text"]) == ("patient", "Do you take walk-ins?")
            [thread] = (await client.get("/api/inbox/threads")).json()["threads"]
            await client.post(f"/api/inbox/threads/{thread['id']}/reply", json={"text": "Yes, 8am to noon."})
            reply = await next_matching(stream, lambda name, data: data.get("from") == "staff")
            assert reply["text"] == "Yes, 8am to noon."
            assert set(reply) == {"id", "from", "text", "at"}  # no references or internal state reach the page


async def test_another_conversations_stream_sees_nothing_of_this_one(live):
    async with httpx.AsyncClient(base_url=live, timeout=15) as client:
        mine, theirs = await _open(client), await _open(client)
        await _say(client, theirs, "private question")
        await _say(client, mine, "my question", message_id="msg-0002")
        async with client.stream("GET", "/channels/webchat/stream", params={"token": mine}) as response:
            first = await next_matching(events(response), lambda name, data: name == "message")
    assert first["text"] == "my question"
