"""What staff do with a thread: read, assign, answer, escalate, close (a message joins one: ``channels.threads``)."""

from __future__ import annotations

import copy

from fhircrm.channels import communications
from fhircrm.channels.codes import TASK_TYPE_SYSTEM, concept, extension
from fhircrm.channels.threads import address_of as address_of
from fhircrm.channels.threads import channel_of as channel_of
from fhircrm.channels.threads import set_ext, set_state, state_of
from fhircrm.channels.threads import topic_of as topic_of
from fhircrm.errors import NotFound, Unprocessable
from fhircrm.fhir.store import FhirStore
from fhircrm.inbox.codes import FIRST_RESPONSE_AT_URL, INBOX_SYSTEM, REASON_SYSTEM, RESOLUTION_OUTPUT, TEAM_URL


async def read_thread(store: FhirStore, thread_id: str) -> dict:
    thread = (await store.read("Task", thread_id)).content
    if not thread or (thread.get("code") or {}).get("coding", [{}])[0].get("system") != INBOX_SYSTEM:
        raise NotFound(f"no inbox thread {thread_id}")
    return thread


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
        set_state(thread, "waiting")
    thread["lastModified"] = communications.instant()
    return (await store.update("Task", thread_id, thread)).content or thread


async def answered(store: FhirStore, thread: dict) -> dict:
    body = copy.deepcopy(thread)
    set_state(body, "answered")
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
    set_state(thread, "resolved")
    thread["output"] = [{"type": {"text": RESOLUTION_OUTPUT}, "valueString": resolution.strip()}]
    thread["lastModified"] = communications.instant()
    return (await store.update("Task", thread_id, thread)).content or thread
