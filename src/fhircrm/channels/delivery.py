"""The delivery job: send one queued Communication through its provider, exactly once.

Order of steps for a message in ``preparation``:
1. Re-check consent (a STOP that arrived after queueing wins).
2. A ``sending`` marker left by an earlier attempt means a sender died mid-call: ask the provider
   (``reconcile``) whether that attempt arrived; if so record it, if unknown stop and ask a person.
3. Commit a new ``sending`` marker with a fresh attempt id, THEN call the provider.
4. Record the provider's answer on the Communication in the job's transaction (with the job's completion).
Transient failures that surely did not reach the provider mark the attempt ``failed`` and retry with backoff;
permanent ones (and exhausted retries) set ``not-done`` and open a Task.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.channels import consent, markers, receipts
from fhircrm.channels.codes import (
    ADDRESS_URL,
    PROVIDER_URL,
    PURPOSE_SYSTEM,
    SUBJECT_URL,
    TEMPLATE_URL,
    channel_of,
    code_of,
    extension,
)
from fhircrm.channels.model import (
    ChannelAdapter,
    OutboundMessage,
    PermanentError,
    Reconciled,
    SendResult,
    TransientError,
)
from fhircrm.errors import NotFound
from fhircrm.fhir.access import ServiceScope
from fhircrm.fhir.store import FhirStore
from fhircrm.jobs import Job
from fhircrm.jobs.registry import Handler, RetryLater
from fhircrm.runtime import Runtime
from fhircrm.stores import open_store

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8


def message_of(comm: dict) -> OutboundMessage:
    text, html = "", None
    for part in comm.get("payload", []):
        if "contentString" in part:
            text = part["contentString"]
        elif (attachment := part.get("contentAttachment", {})).get("contentType", "").startswith("text/html"):
            html = base64.b64decode(attachment["data"]).decode()
    return OutboundMessage(
        communication_id=comm["id"],
        channel=channel_of(comm) or "local",
        address=str(extension(comm, ADDRESS_URL) or ""),
        text=text,
        subject=_str(extension(comm, SUBJECT_URL)),
        html=html,
        language=comm.get("language", "en"),
        template=_str(extension(comm, TEMPLATE_URL)),
    )


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


async def _session_open(store: FhirStore, patient: str) -> bool:
    """WhatsApp's customer-service window: the patient wrote on WhatsApp within the last 24 hours."""
    since = (datetime.now(UTC) - timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M:%SZ")
    params = [("sender", patient), ("channel", "whatsapp"), ("received", f"ge{since}"), ("_summary", "count")]
    return bool((await store.search("Communication", params)).total)


def make_handler(runtime: Runtime, adapters: dict[str, ChannelAdapter]) -> Handler:
    async def deliver(conn: AsyncConnection, job: Job) -> None:
        store = open_store(conn, runtime.settings, policy=ServiceScope("channels"))
        comm_id = job.payload["communication"]
        try:
            comm = (await store.read("Communication", comm_id)).content
        except NotFound:
            return
        if comm is None or comm.get("status") != "preparation":
            return  # delivered, cancelled or deleted meanwhile
        message = message_of(comm)
        provider = _str(extension(comm, PROVIDER_URL)) or "local"
        adapter = adapters.get(provider) or adapters["local"]
        patient = (comm.get("subject") or {}).get("reference")
        purpose = next((code_of(r, PURPOSE_SYSTEM) for r in comm.get("reasonCode", [])), None)
        if patient and purpose:
            refusal = consent.decide(await consent.active_consents(store, patient), message.channel, purpose)
            if refusal:
                await receipts.record_status(store, comm, "not-done", reason=refusal)
                return

        if message.channel == "whatsapp" and patient:
            message = dataclasses.replace(message, session_open=await _session_open(store, patient))
        marker = await markers.get(conn, comm_id)
        if marker is not None and marker.state == "sending":
            found = await adapter.reconcile(message, attempt_id=marker.attempt_id, since=marker.started_at)
            if found.outcome is Reconciled.SENT:
                await markers.settle(conn, comm_id, "sent", found.provider_id)
                await receipts.record_accepted(store, comm, provider, SendResult(found.provider_id))
                return
            if found.outcome is Reconciled.UNKNOWN:
                await markers.settle(conn, comm_id, "failed")
                await receipts.record_status(store, comm, "unknown", reason="unconfirmed")
                return

        attempt_id = uuid.uuid4().hex
        await markers.committed(runtime.engine, conn, lambda c: markers.start(c, comm_id, attempt_id, provider))
        try:
            result = await adapter.send(message, attempt_id=attempt_id)
        except TransientError as exc:
            log.info("delivery of Communication/%s failed transiently (attempt %d)", comm_id, job.attempts)
            if not exc.accepted_unknown:
                await markers.committed(runtime.engine, conn, lambda c: markers.settle(c, comm_id, "failed"))
            if job.attempts >= MAX_ATTEMPTS - 1 and not exc.accepted_unknown:
                await receipts.record_status(store, comm, "not-done", reason="undeliverable")
                return
            raise RetryLater(str(exc), seconds=exc.retry_after) from None
        except PermanentError as exc:
            log.info("delivery of Communication/%s refused by %s (%s)", comm_id, provider, exc.code)
            await markers.settle(conn, comm_id, "failed")
            await receipts.record_status(store, comm, "not-done", reason=exc.code)
            return
        await markers.settle(conn, comm_id, "sent", result.provider_id)
        await receipts.record_accepted(store, comm, provider, result)

    return deliver
