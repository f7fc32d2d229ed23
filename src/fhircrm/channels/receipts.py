"""Status changes of outbound Communications: provider accepted, delivered, failed (which opens a Task)."""

from __future__ import annotations

import copy

from fhircrm.channels import communications, markers
from fhircrm.channels.codes import PROVIDER_ID_SYSTEM, status_reason
from fhircrm.channels.model import SendResult
from fhircrm.fhir.store import FhirStore

_ORDER = {"preparation": 0, "in-progress": 1, "completed": 2, "not-done": 2, "unknown": 2}


async def by_provider_id(store: FhirStore, provider: str, provider_id: str) -> dict | None:
    found = await store.find("Communication", f"identifier={PROVIDER_ID_SYSTEM}|{provider}:{provider_id}")
    live = [c.content for c in found if c.content]
    return live[0] if live else None


async def communication_for_callback(store: FhirStore, provider: str, sid: str, attempt: str | None) -> dict | None:
    """By provider id; or, when the callback beats our own commit (or the sender died), by the attempt id."""
    comm = await by_provider_id(store, provider, sid)
    if comm is not None or not attempt:
        return comm
    communication_id = await markers.communication_of_attempt(store.conn, attempt)
    if communication_id is None:
        return None
    await markers.sent_by_attempt(store.conn, attempt, sid)
    comm = (await store.read("Communication", communication_id)).content
    if comm and comm.get("status") == "preparation":
        comm = await record_accepted(store, comm, provider, SendResult(sid))
    return comm


async def record_receipt(store: FhirStore, provider: str, sid: str, attempt: str | None, status: str | None) -> None:
    """A provider's delivery receipt for message ``sid`` (sent as ``attempt``), its word already mapped to a FHIR
    Communication ``status`` by the provider's vocabulary (None: a word that moves nothing)."""
    comm = await communication_for_callback(store, provider, sid, attempt)
    if comm is not None and status:
        await record_status(store, comm, status, reason="undeliverable" if status == "not-done" else None)


async def record_accepted(store: FhirStore, comm: dict, provider: str, result: SendResult) -> dict:
    body = copy.deepcopy(comm)
    body["status"] = result.status
    body["sent"] = communications.instant()
    if result.status == "completed":
        body["received"] = body["sent"]
    if result.provider_id:
        communications.set_provider_id(body, provider, result.provider_id)
    return (await store.update("Communication", comm["id"], body)).content or body


async def record_status(store: FhirStore, comm: dict, status: str, *, reason: str | None = None) -> dict:
    """Move ``comm`` forward to ``status`` (never backwards: a late 'sent' after 'delivered' is ignored);
    ``not-done`` and ``unknown`` open a delivery-failed Task so a person tries another channel."""
    if _ORDER.get(status, 0) < _ORDER.get(comm.get("status", ""), 0) or comm.get("status") == status:
        return comm
    if comm.get("status") in ("completed", "not-done", "unknown"):
        return comm
    body = copy.deepcopy(comm)
    body["status"] = status
    if status == "completed":
        body["received"] = communications.instant()
    if reason:
        body["statusReason"] = status_reason(reason)
    written = (await store.update("Communication", comm["id"], body)).content or body
    if status in ("not-done", "unknown") and reason != "opted-out":
        await open_delivery_task(store, written)
    return written


async def open_delivery_task(store: FhirStore, comm: dict) -> None:
    patient = (comm.get("subject") or {}).get("reference")
    await store.create(
        communications.task(
            code="delivery-failed",
            display="Delivery failed",
            description="A message could not be delivered: try another channel.",
            patient_ref=patient,
            focus=f"Communication/{comm['id']}",
            priority="routine",
        )
    )
