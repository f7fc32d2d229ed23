"""Read server-sent events from a live streaming response, with a deadline per event."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx


async def events(response: httpx.Response) -> AsyncIterator[tuple[str, dict]]:
    """(event name, JSON data) for each event; comments and keep-alives are skipped."""
    name, data = "message", []
    async for line in response.aiter_lines():
        if not line:
            if data:
                yield name, json.loads("\n".join(data))
            name, data = "message", []
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())


async def next_matching(stream: AsyncIterator[tuple[str, dict]], match, *, within: float = 10.0) -> dict:
    """The first event's data for which ``match(name, data)`` holds, within ``within`` seconds."""

    async def wait() -> dict:
        async for name, data in stream:
            if match(name, data):
                return data
        raise AssertionError("the stream ended")

    return await asyncio.wait_for(wait(), within)
