"""The worker side: turn queued audit records into AuditEvent resources, hundreds per transaction."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.audit.record import AuditRecord
from fhircrm.audit.resource import audit_event, unrecordable
from fhircrm.errors import FhircrmError
from fhircrm.fhir.store import FhirStore, Operation
from fhircrm.jobs import Job

BATCH = 500
#: a record that still fails (the database itself refusing) goes to the dead letters after these attempts
#: (about 8 minutes of backoff), kept there with its error for an operator, never retried forever
MAX_ATTEMPTS = 8
log = logging.getLogger(__name__)


async def write_audit_event(conn: AsyncConnection, job: Job) -> None:
    """One record (the batch failed, or it is alone). A record the store refuses as it is (a FhircrmError:
    retrying cannot change it) is written without the details it refused, so every audited action keeps its
    AuditEvent instead of a job that fails until its attempts run out."""
    # AuditEvents need no domain events or Subscriptions: the bare store, written through its batch path.
    audit = AuditRecord.from_json(job.payload)
    try:
        async with conn.begin_nested():
            await FhirStore(conn).apply([Operation("POST", "AuditEvent", resource=audit_event(audit))])
    except FhircrmError as exc:
        log.warning("audit record %s kept without its details (%s)", job.id, type(exc).__name__)
        await FhirStore(conn).apply([Operation("POST", "AuditEvent", resource=unrecordable(audit))])


async def write_audit_events(conn: AsyncConnection, jobs: list[Job]) -> None:
    events = [audit_event(AuditRecord.from_json(job.payload)) for job in jobs]
    await FhirStore(conn).apply([Operation("POST", "AuditEvent", resource=event) for event in events])
