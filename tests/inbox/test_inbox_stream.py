"""The inbox's live stream: a new inbound message reaches a connected inbox without a reload."""

from __future__ import annotations

import httpx
from tests.channels.signatures_helpers import post_sms
from tests.channels.sse import events, next_matching
from tests.channels.support import create, patient_body


async def test_a_new_inbound_message_arrives_on_the_inbox_stream(live, clean_engine, channel_settings):
    await create(clean_engine, channel_settings, patient_body(phone="+15551230001"))
    async with httpx.AsyncClient(base_url=live, timeout=15) as client, client.stream("GET", "/api/inbox/stream") as sse:
        stream = events(sse)
        assert (await post_sms(client, "can I come earlier?")).status_code == 200
        change = await next_matching(stream, lambda name, data: name == "changes" and data["messages"])
    [message] = change["messages"]
    assert (message["text"], message["direction"]) == ("can I come earlier?", "inbound")
    assert [t["id"] for t in change["threads"]] == [message["thread"]]
