"""Communication resources as the channels write them: outbound messages, inbound ones, status changes."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from fhircrm.channels.codes import (
    ADDRESS_URL,
    DEDUPE_SYSTEM,
    MEDIUM,
    MEDIUM_SYSTEM,
    NOT_BEFORE_URL,
    PROVIDER_ID_SYSTEM,
    PROVIDER_URL,
    PURPOSE_SYSTEM,
    SUBJECT_URL,
    TASK_TYPE_SYSTEM,
    TEMPLATE_URL,
    TOPIC_SYSTEM,
    channel_concept,
    concept,
    status_reason,
)


def instant(moment: datetime | None = None) -> str:
    moment = moment or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def ref(reference: str) -> dict:
    return {"reference": reference}


def topic_concept(topic: str) -> dict:
    return {"coding": [{"system": TOPIC_SYSTEM, "code": topic}], "text": topic}


def outbound(
    *,
    patient_ref: str,
    channel: str,
    provider: str,
    purpose: str,
    text: str | None,
    address: str | None,
    subject: str | None = None,
    html: str | None = None,
    template: str | None = None,
    language: str | None = None,
    based_on: list[str] | None = None,
    about: list[str] | None = None,
    topic: str | None = None,
    dedupe_key: str | None = None,
    not_before: datetime | None = None,
    blocked: str | None = None,
    in_response_to: str | None = None,
) -> dict:
    code, display = MEDIUM[channel]
    extensions = [{"url": PROVIDER_URL, "valueCode": provider}]
    if address:
        extensions.append({"url": ADDRESS_URL, "valueString": address})
    if template:
        extensions.append({"url": TEMPLATE_URL, "valueString": template})
    if subject:
        extensions.append({"url": SUBJECT_URL, "valueString": subject})
    if not_before:
        extensions.append({"url": NOT_BEFORE_URL, "valueDateTime": instant(not_before)})
    resource: dict = {
        "resourceType": "Communication",
        "extension": extensions,
        "status": "not-done" if blocked else "preparation",
        "category": [channel_concept(channel)],
        "medium": [concept(MEDIUM_SYSTEM, code, display)],
        "subject": ref(patient_ref),
        "recipient": [ref(patient_ref)],
        "reasonCode": [concept(PURPOSE_SYSTEM, purpose)],
    }
    if language:
        resource["language"] = language
    if dedupe_key:
        resource["identifier"] = [{"system": DEDUPE_SYSTEM, "value": dedupe_key}]
    if blocked:
        resource["statusReason"] = status_reason(blocked)
    if based_on:
        resource["basedOn"] = [ref(r) for r in based_on]
    if about:
        resource["about"] = [ref(r) for r in about]
    if topic:
        resource["topic"] = topic_concept(topic)
    if in_response_to:
        resource["inResponseTo"] = [ref(in_response_to)]
    payload = []
    if text is not None:
        payload.append({"contentString": text})
    if html:
        data = base64.b64encode(html.encode()).decode()
        payload.append({"contentAttachment": {"contentType": "text/html; charset=utf-8", "data": data}})
    if payload:
        resource["payload"] = payload
    return resource


def inbound(
    *,
    channel: str,
    sender_ref: str | None,
    text: str,
    provider: str,
    provider_id: str | None,
    address: str | None,
    topic: str | None = None,
    in_response_to: str | None = None,
    received: datetime | None = None,
) -> dict:
    code, display = MEDIUM[channel]
    resource: dict = {
        "resourceType": "Communication",
        "extension": [{"url": PROVIDER_URL, "valueCode": provider}],
        "status": "completed",
        "category": [channel_concept(channel)],
        "medium": [concept(MEDIUM_SYSTEM, code, display)],
        "received": instant(received),
        "payload": [{"contentString": text}],
    }
    if address:
        resource["extension"].append({"url": ADDRESS_URL, "valueString": address})
    if provider_id:
        resource["identifier"] = [{"system": PROVIDER_ID_SYSTEM, "value": f"{provider}:{provider_id}"}]
    if sender_ref:
        resource["sender"] = ref(sender_ref)
        if sender_ref.startswith("Patient/"):
            resource["subject"] = ref(sender_ref)
    if topic:
        resource["topic"] = topic_concept(topic)
    if in_response_to:
        resource["inResponseTo"] = [ref(in_response_to)]
    return resource


def set_provider_id(resource: dict, provider: str, provider_id: str) -> None:
    value = f"{provider}:{provider_id}"
    ids = [i for i in resource.get("identifier", []) if i.get("system") != PROVIDER_ID_SYSTEM]
    resource["identifier"] = [*ids, {"system": PROVIDER_ID_SYSTEM, "value": value}]


def task(
    *,
    code: str,
    display: str,
    description: str,
    patient_ref: str | None,
    focus: str | None = None,
    priority: str = "routine",
    based_on: list[str] | None = None,
) -> dict:
    resource: dict = {
        "resourceType": "Task",
        "status": "requested",
        "intent": "order",
        "priority": priority,
        "code": concept(TASK_TYPE_SYSTEM, code, display),
        "description": description,
        "authoredOn": instant(),
    }
    if patient_ref:
        resource["for"] = ref(patient_ref)
    if focus:
        resource["focus"] = ref(focus)
    if based_on:
        resource["basedOn"] = [ref(r) for r in based_on]
    return resource


__all__ = ["DEDUPE_SYSTEM", "inbound", "instant", "outbound", "ref", "set_provider_id", "task", "topic_concept"]
