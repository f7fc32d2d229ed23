"""Web chat for the embeddable widget (``/ui/static/chat/widget.js``): open a conversation, post messages, and
follow the conversation live over server-sent events.

Everything after ``POST /conversations`` is authorised by the signed conversation token (``chat_tokens``): as
``Authorization: Bearer`` on posts, as ``?token=`` on the stream (EventSource cannot set headers). Staff replies
from the inbox are Communications on the same channel address, so the stream carries them to the widget. The
widget is embedded on other sites: these endpoints answer CORS for ``channels_webchat_origins`` (no cookies).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import BaseModel, Field

from fhircrm.channels import chat_tokens
from fhircrm.channels.inbound import InboundMessage, receive
from fhircrm.config import Settings
from fhircrm.deps import ServiceStoreDep
from fhircrm.fhir.access import ServiceScope
from fhircrm.fhir.store import FhirStore
from fhircrm.stores import open_store

NAME = "webchat"
router = APIRouter(prefix="/channels/webchat", tags=["channels"])
OVERLAP = timedelta(seconds=5)
VISIBLE = "in-progress,completed"  # queued or blocked replies are not shown until delivered


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def cors_headers(request: Request) -> dict[str, str]:
    origins = _settings(request).channels_webchat_origins
    origin = request.headers.get("Origin")
    if "*" in origins:
        allowed = "*"
    elif origin and origin in origins:
        allowed = origin
    else:
        return {}
    return {"Access-Control-Allow-Origin": allowed, "Vary": "Origin"}


def _not_configured(request: Request) -> HTTPException:
    return HTTPException(503, "web chat is not configured on this server", headers=cors_headers(request))


def conversation_of(request: Request, token: str | None) -> chat_tokens.Conversation:
    if not token:
        raise HTTPException(401, "a conversation token is required", headers=cors_headers(request))
    try:
        conversation = chat_tokens.verify(_settings(request), token)
    except chat_tokens.NotConfigured as exc:
        raise _not_configured(request) from exc
    if conversation is None:
        raise HTTPException(403, "invalid or expired conversation token", headers=cors_headers(request))
    return conversation


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


@router.options("/{path:path}", include_in_schema=False)
async def preflight(path: str, request: Request) -> Response:
    headers = cors_headers(request)
    if headers:
        headers |= {
            "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
            "Access-Control-Allow-Headers": "Authorization, Content-Type, Last-Event-ID",
            "Access-Control-Max-Age": "600",
        }
    return Response(status_code=204, headers=headers)


@router.post("/conversations", status_code=201, include_in_schema=False)
async def open_conversation(request: Request, response: Response) -> dict:
    """A new conversation: nothing is stored until the first message."""
    try:
        token, _ = chat_tokens.issue(_settings(request))
    except chat_tokens.NotConfigured as exc:
        raise _not_configured(request) from exc
    response.headers.update(cors_headers(request))
    return {"token": token, "expires_in_days": _settings(request).channels_webchat_token_days}


class ChatMessage(BaseModel):
    id: str = Field(..., min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")  # a resend is a replay
    text: str = Field(..., min_length=1, max_length=4000)


@router.post("/messages", include_in_schema=False)
async def post_message(body: ChatMessage, request: Request, response: Response, store: ServiceStoreDep) -> dict:
    conversation = conversation_of(request, _bearer(request))
    message = InboundMessage(
        channel="webchat",
        provider=NAME,
        provider_id=f"{conversation.session}:{body.id}",
        address=conversation.session,
        text=body.text,
    )
    outcome = await receive(store, _settings(request), message)
    response.headers.update(cors_headers(request))
    return {"received": outcome is not None, "id": outcome.communication["id"] if outcome else None}


def chat_view(comm: dict) -> dict:
    """What the patient's widget may see of a message: no references, no internal state."""
    return {
        "id": comm["id"],
        "from": "staff" if comm.get("recipient") or comm.get("sent") else "patient",
        "text": next((p["contentString"] for p in comm.get("payload", []) if "contentString" in p), ""),
        "at": comm.get("sent") or comm.get("received") or comm["meta"]["lastUpdated"],
    }


async def conversation_since(store: FhirStore, session: str, since: datetime | None) -> list[dict]:
    params = [
        ("channel-address", session),
        ("channel", "webchat"),
        ("status", VISIBLE),
        ("_sort", "_lastUpdated"),
        ("_count", "200"),
    ]
    if since is not None:
        window = (since - OVERLAP).strftime("%Y-%m-%dT%H:%M:%S.%f")[:23]
        params.append(("_lastUpdated", f"ge{window}Z"))
    return (await store.search("Communication", params)).matches


def _instant(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@router.get("/stream", include_in_schema=False)
async def stream(request: Request, token: str | None = None) -> StreamingResponse:
    """The conversation so far, then every new message (the patient's and staff replies) as ``message`` events.

    Each event's id is a cursor: a reconnecting EventSource sends it back as ``Last-Event-ID`` and misses nothing.
    """
    conversation = conversation_of(request, token)
    engine, settings = request.app.state.engine, _settings(request)
    start = _instant(request.headers.get("Last-Event-ID"))

    async def events() -> AsyncIterator[bytes]:
        cursor, seen = start, set()
        yield b"retry: 2000\n\n"
        while not await request.is_disconnected():
            async with engine.begin() as conn:
                found = await conversation_since(
                    open_store(conn, settings, policy=ServiceScope("webchat")), conversation.session, cursor
                )
            for comm in found:
                if comm["id"] in seen:
                    continue
                seen.add(comm["id"])
                data = json.dumps(chat_view(comm))
                yield f"id: {comm['meta']['lastUpdated']}\nevent: message\ndata: {data}\n\n".encode()
            if found:
                cursor = _instant(found[-1]["meta"]["lastUpdated"])
            yield b": keep-alive\n\n"
            await asyncio.sleep(settings.channels_webchat_poll_seconds)

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", **cors_headers(request)}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


DEMO_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Chat with the clinic</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>Demo Clinic</h1><p>This page embeds the fhircrm chat widget, as a clinic web site would.</p></main>
<script src="/ui/static/chat/widget.js" data-fhircrm-chat="{root}" data-title="Chat with us" defer></script>
</body></html>"""


@router.get("/demo", include_in_schema=False)
async def demo(request: Request) -> HTMLResponse:
    """A page that embeds the widget under a strict CSP (no inline script or style): the embedding snippet."""
    root = str(request.base_url).rstrip("/")
    csp = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'"
    return HTMLResponse(DEMO_PAGE.replace("{root}", root), headers={"Content-Security-Policy": csp})
