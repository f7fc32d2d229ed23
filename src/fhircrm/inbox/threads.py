"""Thread operations: find or open, take a message in, reply, assign, escalate, close."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

from fhircrm.channels import communications
from fhircrm.channels.codes import TASK_TYPE_SYSTEM, concept, extension
from fhircrm.errors import NotFound, Unprocessable
from fhircrm.fhir.store import FhirStore
from fhircrm.inbox.codes import (
    ADDRESS_INPUT,
    CHANNEL_INPUT,
    FIRST_RESPONSE_AT_URL,
    FIRST_RESPONSE_DUE_URL,
    INBOX_SYSTEM,
    REASON_SYSTEM,
    RESOLUTION_DUE_URL,
    RESOLUTION_OUTPUT,
    SLA_MINUTES,
    STATE_SYSTEM,
    TEAM_URL,
    TOPIC_INPUT,
)


def _input(thread: dict, name: str) -> str | None:
    for item in thread.get("input", []):
        if (item.get("type") or {}).get("text") == name:
            return item.get("valueString")
    return None


def topic_of(thread: dict) -> str | None:
    return _input(thread, TOPIC_INPUT)


def channel_of(thread: dict) -> str | None:
    return _input(thread, CHANNEL_INPUT)


def address_of(thread: dict) -> str | None:
    """Where an unidentified sender wrote from (phone, e-mail, chat conversation): replies go back there."""
    return _input(thread, ADDRESS_INPUT)


def state_of(thread: dict) -> str | None:
    return next((c.get("code") for c in (thread.get("businessStatus") or {}).get("coding", [])), None)


def set_ext(resource: dict, url: str, value: dict) -> None:
    resource["extension"] = [e for e in resource.get("extension", []) if e.get("url") != url] + [{"url": url, **value}]


def _set_state(thread: dict, state: str) -> None:
    thread["businessStatus"] = concept(STATE_SYSTEM, state)


async def read_thread(store: FhirStore, thread_id: str) -> dict:
    thread = (await store.read("Task", thread_id)).content
    if not thread or (thread.get("code") or {}).get("coding", [{}])[0].get("system") != INBOX_SYSTEM:
        raise NotFound(f"no inbox thread {thread_id}")
    return thread


async def find_open(
    store: FhirStore, patient_ref: str | None, topic: str, *, address: str | None = None
) -> dict | None:
    params = [("code", f"{INBOX_SYSTEM}|conversation"), ("status", "requested,in-progress"), ("_count", "100")]
    if patient_ref:
        params.append(("patient", patient_ref))
    for thread in (await store.search("Task", params)).matches:
        if topic_of(thread) == topic and (patient_ref or address_of(thread) == address):
            return thread
    return None


async def linked_patient(store: FhirStore, address: str | None) -> str | None:
    """The patient a coordinator linked an open thread from ``address`` to (see ``identify``), if any."""
    if not address:
        return None
    params = [("code", f"{INBOX_SYSTEM}|conversation"), ("status", "requested,in-progress"), ("_count", "200")]
    for thread in (await store.search("Task", [*params, ("_sort", "-_lastUpdated")])).matches:
        if address_of(thread) == address and thread.get("for"):
            return thread["for"].get("reference")
    return None


def new_thread(
    *, patient_ref: str | None, topic: str, channel: str, reason: str = "general", address: str | None = None
) -> dict:
    now = datetime.now(UTC)
    first, resolution = SLA_MINUTES.get(reason, SLA_MINUTES["general"])
    inputs = [
        {"type": {"text": TOPIC_INPUT}, "valueString": topic},
        {"type": {"text": CHANNEL_INPUT}, "valueString": channel},
    ]
    if address and not patient_ref:
        inputs.append({"type": {"text": ADDRESS_INPUT}, "valueString": address})
    thread: dict = {
        "resourceType": "Task",
        "extension": [
            {"url": FIRST_RESPONSE_DUE_URL, "valueDateTime": communications.instant(now + timedelta(minutes=first))},
            {"url": RESOLUTION_DUE_URL, "valueDateTime": communications.instant(now + timedelta(minutes=resolution))},
        ],
        "status": "in-progress",
        "intent": "order",
        "priority": "urgent" if reason == "complaint" else "routine",
        "code": concept(INBOX_SYSTEM, "conversation", "Conversation"),
        "reasonCode": concept(REASON_SYSTEM, reason),
        "authoredOn": communications.instant(now),
        "lastModified": communications.instant(now),
        "input": inputs,
    }
    _set_state(thread, "unread")
    if patient_ref:
        thread["for"] = communications.ref(patient_ref)
    return thread


async def thread_for_inbound(
    store: FhirStore, *, patient_ref: str | None, topic: str, channel: str, address: str | None, reason: str
) -> dict:
    """The open thread a new inbound message joins (marked unread), or a new one."""
    thread = await find_open(store, patient_ref, topic, address=address)
    if thread is None:
        body = new_thread(patient_ref=patient_ref, topic=topic, channel=channel, reason=reason, address=address)
        return (await store.create(body)).content or body
    body = copy.deepcopy(thread)
    _set_state(body, "unread")
    body["lastModified"] = communications.instant()
    return (await store.update("Task", body["id"], body)).content or body


async def update(store: FhirStore, thread_id: str, change: dict) -> dict:
    """Assign (owner, team), re-prioritise, re-reason or mark read: small edits a person makes."""
    thread = copy.deepcopy(await read_thread(store, thread_id))
    if "owner" in change:
        thread["owner"] = communications.ref(change["owner"]) if change["owner"] else None
        if thread["owner"] is None:
            del thread["owner"]
    if change.get("team"):
        set_ext(thread, TEAM_URL, {"valueReference": communications.ref(change["team"])})
    if change.get("priority"):
        if change["priority"] not in ("routine", "urgent", "asap", "stat"):
            raise Unprocessable("priority must be routine, urgent, asap or stat")
        thread["priority"] = change["priority"]
    if change.get("reason"):
        thread["reasonCode"] = concept(REASON_SYSTEM, change["reason"])
    if change.get("read") and state_of(thread) == "unread":
        _set_state(thread, "waiting")
    thread["lastModified"] = communications.instant()
    return (await store.update("Task", thread_id, thread)).content or thread


async def answered(store: FhirStore, thread: dict) -> dict:
    body = copy.deepcopy(thread)
    _set_state(body, "answered")
    if extension(body, FIRST_RESPONSE_AT_URL) is None:
        set_ext(body, FIRST_RESPONSE_AT_URL, {"valueDateTime": communications.instant()})
    body["lastModified"] = communications.instant()
    return (await store.update("Task", body["id"], body)).content or body


async def escalate(store: FhirStore, thread_id: str, *, code: str, note: str, owner: str | None = None) -> dict:
    """A Task for the work the conversation needs (a call back, a complaint), part of the thread."""
    thread = await read_thread(store, thread_id)
    if thread.get("status") == "completed":
        raise Unprocessable("the thread is closed")
    task = communications.task(
        code=code,
        display=code.replace("-", " ").capitalize(),
        description=note or "Escalated from the inbox",
        patient_ref=(thread.get("for") or {}).get("reference"),
        focus=f"Task/{thread_id}",
        priority=thread.get("priority", "routine"),
    )
    task["code"]["coding"][0]["system"] = TASK_TYPE_SYSTEM
    task["partOf"] = [communications.ref(f"Task/{thread_id}")]
    if owner:
        task["owner"] = communications.ref(owner)
    return (await store.create(task)).content or task


async def close(store: FhirStore, thread_id: str, *, resolution: str | None) -> dict:
    if not resolution or not resolution.strip():
        raise Unprocessable("closing a thread needs a resolution")
    thread = copy.deepcopy(await read_thread(store, thread_id))
    if thread.get("status") == "completed":
        raise Unprocessable("the thread is already closed")
    thread["status"] = "completed"
    _set_state(thread, "resolved")
    thread["output"] = [{"type": {"text": RESOLUTION_OUTPUT}, "valueString": resolution.strip()}]
    thread["lastModified"] = communications.instant()
    return (await store.update("Task", thread_id, thread)).content or thread
