"""Process one FHIR message Bundle synchronously and answer with a response message.

A message is a ``Bundle`` of type ``message`` whose first entry is a ``MessageHeader`` (with an id: the key of
idempotency). Its other entries are written in one transaction through the store under the sender's policy,
as a transaction of ``PUT Type/id`` (a resource with an id) and ``POST Type`` (one without, its ``urn:uuid``
fullUrl resolved) entries would be, so validation, access checks, indexing and the domain events derived from
the writes are the REST path's. The response's MessageHeader names the request's id in ``response.identifier``
with ``code`` ``ok``, ``fatal-error`` (refused: nothing written; an OperationOutcome says why) or
``transient-error`` (the database could not do it now: send it again). ``ok`` and ``fatal-error`` responses are
kept: the same message again gets the first response and writes nothing.

Who may send messages: system clients (``system/`` scopes) and development access. A message writes across
patients like an EHR feed; patient apps and staff write through the REST API.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from fhircrm.errors import BadRequest, FhircrmError, Forbidden, Issue
from fhircrm.fhir.bundle_entries import parse_entry
from fhircrm.fhir.outcomes import operation_outcome
from fhircrm.fhir.search.dates import format_instant
from fhircrm.fhir.store import FhirStore, check_id, now
from fhircrm.fhir.transactions import run_transaction
from fhircrm.jobs.queue import utcnow
from fhircrm.messaging.events import MessageEvent, event_of
from fhircrm.messaging.tables import message_response


@dataclass(frozen=True, slots=True)
class Processed:
    response: dict
    replayed: bool  # the response of an earlier identical message


def check_sender(store: FhirStore) -> None:
    """Only system clients (and development access) send messages: 403 otherwise."""
    access = getattr(store.scope, "access", None)
    if access is None or access.development or "system" in access.scopes.contexts:
        return
    raise Forbidden("only system clients (system/ scopes) may send FHIR messages ($process-message)")


def header_of(bundle: object) -> dict:
    """The request's MessageHeader; 400 naming what makes ``bundle`` no message."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise BadRequest("$process-message takes a Bundle of type message", expression="Bundle")
    if bundle.get("type") != "message":
        raise BadRequest("the Bundle's type must be message", expression="Bundle.type")
    entries = bundle.get("entry")
    first = (
        entries[0].get("resource") if isinstance(entries, list) and entries and isinstance(entries[0], dict) else None
    )
    if not isinstance(first, dict) or first.get("resourceType") != "MessageHeader":
        raise BadRequest("the first entry of a message must be its MessageHeader", expression="Bundle.entry[0]")
    if not isinstance(first.get("id"), str):
        raise BadRequest("the MessageHeader needs an id (messages are idempotent on it)", expression="MessageHeader.id")
    check_id(first["id"])
    if not isinstance(first.get("eventCoding"), dict):
        raise BadRequest("the MessageHeader needs an eventCoding", expression="MessageHeader.eventCoding")
    return first


async def process(store: FhirStore, bundle: dict, *, base: str) -> Processed:
    header = header_of(bundle)
    check_sender(store)
    header_id: str = header["id"]
    await store.serialize_conditional("MessageHeader", f"_id={header_id}")  # the same message twice at once
    earlier = await _earlier(store, header_id)
    if earlier is not None:
        return Processed(earlier, True)
    event = event_of(header["eventCoding"])
    if event is None:
        issue = Issue("this message event is not supported (see CapabilityStatement.messaging)", "not-supported")
        response = respond(header, base, "fatal-error", issues=[issue], expression="MessageHeader.eventCoding")
    else:
        try:
            async with store.conn.begin_nested():
                written = await _write(store, bundle, header, event, base)
        except FhircrmError as exc:
            response = respond(header, base, "fatal-error", issues=exc.issues, event=event)
        except DBAPIError:  # a deadlock, a lock or statement timeout: the sender should try again
            issue = Issue("the message could not be processed now; send it again", "transient")
            return Processed(respond(header, base, "transient-error", issues=[issue], event=event), False)
        else:
            response = respond(header, base, "ok", event=event, focus=written)
    await store.conn.execute(
        sa.insert(message_response).values(header_id=header_id, response=response, created_at=utcnow())
    )
    return Processed(response, False)


async def _earlier(store: FhirStore, header_id: str) -> dict | None:
    row = (
        await store.conn.execute(
            sa.select(message_response.c.response).where(message_response.c.header_id == header_id)
        )
    ).first()
    return row.response if row is not None else None


async def _write(store: FhirStore, bundle: dict, header: dict, event: MessageEvent, base: str) -> list[str]:
    """Write the message's resources as one transaction; returns ``Type/id`` of each."""
    items: list[dict] = []
    for i, entry in enumerate(bundle["entry"][1:], start=1):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            raise BadRequest(f"Bundle.entry[{i}] holds no resource", expression=f"Bundle.entry[{i}].resource")
        item: dict = {"resource": resource}
        if isinstance(entry.get("fullUrl"), str):
            item["fullUrl"] = entry["fullUrl"]
        if isinstance(resource.get("id"), str):
            item["request"] = {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"}
        else:
            item["request"] = {"method": "POST", "url": resource["resourceType"]}
        items.append(item)
    _check_focus(header, items, event)
    entries = [parse_entry(i, item) for i, item in enumerate(items, start=1)]
    answers = await run_transaction(store, entries, base=base, ret="minimal")
    return [answer["response"]["location"].split("/_history", 1)[0] for answer in answers]


def _check_focus(header: dict, items: list[dict], event: MessageEvent) -> None:
    """The focus the event needs is in the message, with the status the event means."""
    listed = header.get("focus") if isinstance(header.get("focus"), list) else []
    focus = {ref["reference"] for ref in listed if isinstance(ref, dict) and isinstance(ref.get("reference"), str)}
    candidates = [
        item["resource"]
        for item in items
        if item["resource"]["resourceType"] in event.focus
        and (
            not focus
            or item.get("fullUrl") in focus
            or f"{item['resource']['resourceType']}/{item['resource'].get('id')}" in focus
            or any(
                str(ref).endswith(f"/{item['resource']['resourceType']}/{item['resource'].get('id')}") for ref in focus
            )
        )
    ]
    wanted = " or ".join(event.focus)
    if not candidates:
        raise BadRequest(
            f"a {event.code} message needs a {wanted} as its focus, in the message", expression="MessageHeader.focus"
        )
    if event.statuses and not any(c.get("status") in event.statuses for c in candidates):
        raise BadRequest(
            f"a {event.code} message needs its {wanted} with status {' or '.join(event.statuses)}",
            expression=f"{candidates[0]['resourceType']}.status",
        )
    if event.merge and not any(
        link.get("type") in ("replaced-by", "replaces") for c in candidates for link in c.get("link") or []
    ):
        raise BadRequest(
            "a patient-merged message needs a Patient linking the other record (link.type replaced-by or replaces)",
            expression="Patient.link",
        )


def respond(
    header: dict,
    base: str,
    code: str,
    *,
    issues: list[Issue] | None = None,
    event: MessageEvent | None = None,
    focus: list[str] = (),  # type: ignore[assignment]
    expression: str | None = None,
) -> dict:
    """The response message: a MessageHeader naming the request, and an OperationOutcome when there are issues."""
    response_id = str(uuid.uuid4())
    reply: dict = {
        "resourceType": "MessageHeader",
        "id": response_id,
        "eventCoding": event.coding() if event else header["eventCoding"],
        "source": {"name": "fhircrm", "endpoint": base},
        "response": {"identifier": header["id"], "code": code},
    }
    sender = (header.get("source") or {}).get("endpoint") if isinstance(header.get("source"), dict) else None
    if isinstance(sender, str):
        reply["destination"] = [{"endpoint": sender}]
    if focus:
        reply["focus"] = [{"reference": ref} for ref in focus]
    entries: list[dict] = [{"fullUrl": f"urn:uuid:{response_id}", "resource": reply}]
    if issues:
        if expression:
            issues = [Issue(i.diagnostics, i.code, i.severity, (expression,)) for i in issues]
        outcome_id = str(uuid.uuid5(uuid.UUID(response_id), "details"))
        outcome = {"id": outcome_id, **operation_outcome(list(issues))}
        reply["response"]["details"] = {"reference": f"urn:uuid:{outcome_id}"}
        entries.append({"fullUrl": f"urn:uuid:{outcome_id}", "resource": outcome})
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "message",
        "timestamp": format_instant(now()),
        "entry": entries,
    }
