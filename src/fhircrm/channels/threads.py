"""Conversation threads as inbound messages meet them: the open thread a message joins, or a new one.

A thread is a FHIR Task (code ``conversation``) for one patient (or, unidentified, one address) and topic; what
staff then do with it (reply, assign, escalate, close) is ``fhircrm.inbox``.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

from fhircrm.channels import communications
from fhircrm.channels.codes import concept
from fhircrm.channels.thread_codes import (
    ADDRESS_INPUT,
    CHANNEL_INPUT,
    FIRST_RESPONSE_DUE_URL,
    INBOX_SYSTEM,
    REASON_SYSTEM,
    RESOLUTION_DUE_URL,
    SLA_MINUTES,
    STATE_SYSTEM,
    TOPIC_INPUT,
)
from fhircrm.fhir.store import FhirStore


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


def set_state(thread: dict, state: str) -> None:
    thread["businessStatus"] = concept(STATE_SYSTEM, state)


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
    set_state(thread, "unread")
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
    set_state(body, "unread")
    body["lastModified"] = communications.instant()
    return (await store.update("Task", body["id"], body)).content or body
