"""The inbox API (JSON under /api/inbox): list and read threads, reply, assign, escalate, close, catch up.

``GET /api/inbox/changes?since=`` returns threads and messages changed since a cursor (an instant); the
window overlaps by a few seconds so a write that committed late is not missed, and clients dedupe by
(id, version). ``GET /api/inbox/stream`` sends the same changes as server-sent events as they happen.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from fhircrm.channels import communications
from fhircrm.channels.outbound import queue_message
from fhircrm.deps import StoreDep, with_roles
from fhircrm.errors import BadRequest, Unprocessable
from fhircrm.fhir.store import FhirStore
from fhircrm.inbox import identify, threads
from fhircrm.inbox.codes import INBOX_SYSTEM
from fhircrm.inbox.views import message_view, thread_view
from fhircrm.smart import AccessDep
from fhircrm.smart.policy import SmartPolicy
from fhircrm.stores import open_store

router = APIRouter(prefix="/api/inbox", tags=["inbox"])
OVERLAP = timedelta(seconds=5)
THREAD_CODE = f"{INBOX_SYSTEM}|conversation"


@router.get("/threads")
async def list_threads(
    store: StoreDep,
    status: str = Query("open", pattern="^(open|closed|all)$"),
    owner: str | None = None,
    patient: str | None = None,
    count: int = Query(50, ge=1, le=500),
) -> dict:
    params = [("code", THREAD_CODE), ("_sort", "-_lastUpdated"), ("_count", str(count))]
    if status != "all":
        params.append(("status", "completed" if status == "closed" else "requested,in-progress"))
    if owner:
        params.append(("owner", owner))
    if patient:
        params.append(("patient", patient))
    found = (await store.search("Task", params)).matches
    return {"threads": [thread_view(t) for t in found]}


async def _messages(store: FhirStore, thread_id: str) -> list[dict]:
    params = [("part-of", f"Task/{thread_id}"), ("_sort", "_lastUpdated"), ("_count", "500")]
    return (await store.search("Communication", params)).matches


@router.get("/threads/{thread_id}")
async def get_thread(thread_id: str, store: StoreDep) -> dict:
    thread = await threads.read_thread(store, thread_id)
    escalations = (await store.search("Task", [("part-of", f"Task/{thread_id}")])).matches
    return {
        **thread_view(thread),
        "messages": [message_view(m) for m in await _messages(store, thread_id)],
        "escalations": [
            {"id": t["id"], "status": t.get("status"), "code": t["code"]["coding"][0]["code"]} for t in escalations
        ],
    }


class ThreadChange(BaseModel):
    owner: str | None = None
    team: str | None = None
    priority: str | None = None
    reason: str | None = Field(None, max_length=64)
    read: bool = False


@router.post("/threads/{thread_id}/update")
async def update_thread(thread_id: str, change: ThreadChange, store: StoreDep) -> dict:
    return thread_view(await threads.update(store, thread_id, change.model_dump(exclude_unset=True)))


class Reply(BaseModel):
    text: str = Field(..., min_length=1, max_length=4000)
    subject: str | None = Field(None, max_length=200)
    #: Another channel than the thread's (the patient opted out of it): to the patient's address on that channel.
    channel: Literal["sms", "whatsapp", "email"] | None = None


@router.post("/threads/{thread_id}/reply")
async def reply(thread_id: str, body: Reply, request: Request, store: StoreDep) -> dict:
    """Answer on the thread's channel through the outbox (consent and opt-outs still apply)."""
    thread = await threads.read_thread(store, thread_id)
    if thread.get("status") == "completed":
        raise Unprocessable("the thread is closed")
    patient = (thread.get("for") or {}).get("reference")
    channel: str | None = threads.channel_of(thread) or "local"
    elsewhere = bool(body.channel and body.channel != channel)
    if patient:
        if elsewhere:
            channel = body.channel
        elif channel in ("webform", "voice"):
            channel = None  # a form or a call is not answered in writing on itself: the preferred channel
        comm = await queue_message(
            store,
            patient=patient,
            template="generic",
            purpose="care-coordination",
            context={"body": body.text, "subject": body.subject or "Your message to the clinic"},
            channel=channel,
            # back to where a linked sender wrote from (on another channel: the patient's address there)
            address=threads.address_of(thread) if channel and not elsewhere else None,
            topic=threads.topic_of(thread),
            check_cap=False,
            part_of=f"Task/{thread_id}",
            settings=request.app.state.settings,
        )
    elif channel == "webchat":
        comm = (await store.create(_chat_reply(thread, thread_id, body.text))).content or {}
    else:
        raise Unprocessable("the sender is not identified yet: link the thread to a patient first")
    await threads.answered(store, thread)
    return message_view(comm)


def _chat_reply(thread: dict, thread_id: str, text: str) -> dict:
    address = threads.address_of(thread)
    comm = communications.outbound(
        patient_ref="Patient/unknown",
        channel="webchat",
        provider="webchat",
        purpose="care-coordination",
        text=text,
        address=address,
        topic=threads.topic_of(thread),
    )
    comm.pop("subject"), comm.pop("recipient")
    comm["status"] = "completed"
    comm["sent"] = communications.instant()
    comm["partOf"] = [communications.ref(f"Task/{thread_id}")]
    return comm


class Identification(BaseModel):
    patient: str = Field(..., pattern=r"^Patient/[A-Za-z0-9\-.]{1,64}$")


@router.post("/threads/{thread_id}/identify")
async def identify_sender(thread_id: str, body: Identification, store: StoreDep) -> dict:
    """Link an unknown sender's thread to a Patient; its messages follow and identify-sender Tasks complete."""
    return thread_view(await identify.identify(store, thread_id, body.patient))


class Escalation(BaseModel):
    code: str = Field("callback", pattern="^[a-z-]{3,40}$")
    note: str = Field("", max_length=2000)
    owner: str | None = None


@router.post("/threads/{thread_id}/escalate")
async def escalate(thread_id: str, body: Escalation, store: StoreDep) -> dict:
    task = await threads.escalate(store, thread_id, code=body.code, note=body.note, owner=body.owner)
    return {"task": f"Task/{task['id']}", "thread": thread_id}


class Closure(BaseModel):
    resolution: str | None = Field(None, max_length=2000)


@router.post("/threads/{thread_id}/close")
async def close(thread_id: str, body: Closure, store: StoreDep) -> dict:
    return thread_view(await threads.close(store, thread_id, resolution=body.resolution))


def _cursor(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC) - timedelta(days=1)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest("since must be an instant (2030-01-01T00:00:00Z)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def changes_since(store: FhirStore, since: datetime) -> dict:
    window = (since - OVERLAP).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    stamp = ("_lastUpdated", f"ge{window[:23]}Z")
    changed_threads = (
        await store.search("Task", [("code", THREAD_CODE), stamp, ("_sort", "_lastUpdated"), ("_count", "500")])
    ).matches
    changed_messages = (
        await store.search("Communication", [stamp, ("_sort", "_lastUpdated"), ("_count", "500")])
    ).matches
    stamps = [r["meta"]["lastUpdated"] for r in [*changed_threads, *changed_messages]]
    return {
        "cursor": max(stamps) if stamps else since.isoformat().replace("+00:00", "Z"),
        "threads": [thread_view(t) for t in changed_threads],
        "messages": [
            {**message_view(m), "version": m["meta"]["versionId"], "thread": _thread_of(m)} for m in changed_messages
        ],
    }


def _thread_of(comm: dict) -> str | None:
    return next(
        (r["reference"].split("/")[1] for r in comm.get("partOf", []) if r["reference"].startswith("Task/")), None
    )


@router.get("/changes")
async def changes(store: StoreDep, since: str | None = None) -> dict:
    return await changes_since(store, _cursor(since))


@router.get("/stream")
async def stream(request: Request, access: AccessDep, since: str | None = None) -> StreamingResponse:
    engine, settings = request.app.state.engine, request.app.state.settings
    start = _cursor(since)
    async with engine.begin() as conn:  # the person's roles, looked up once for the life of the stream
        access, staff = await with_roles(conn, settings, access, request=request)
    policy = SmartPolicy(access, staff)  # the caller's token and roles, checked now and applied to every poll
    for resource_type in ("Task", "Communication"):
        policy.allow("search", resource_type)  # 403 up front rather than an empty stream

    async def events() -> AsyncIterator[bytes]:
        cursor, seen = start, set()
        while not await request.is_disconnected():
            async with engine.begin() as conn:
                batch = await changes_since(open_store(conn, settings, policy=policy), cursor)
            fresh = [
                item for item in [*batch["threads"], *batch["messages"]] if (item["id"], item["version"]) not in seen
            ]
            for item in fresh:
                seen.add((item["id"], item["version"]))
            if fresh:
                payload = {
                    **batch,
                    "threads": [t for t in batch["threads"] if t in fresh],
                    "messages": [m for m in batch["messages"] if m in fresh],
                }
                yield f"id: {batch['cursor']}\nevent: changes\ndata: {json.dumps(payload)}\n\n".encode()
            cursor = _cursor(batch["cursor"])
            yield b": keep-alive\n\n"
            await asyncio.sleep(1.0)

    return StreamingResponse(events(), media_type="text/event-stream")
