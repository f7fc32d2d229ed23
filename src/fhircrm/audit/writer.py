"""The worker side: turn queued audit records into AuditEvent resources, hundreds per transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.audit.record import AuditRecord
from fhircrm.audit.resource import audit_event
from fhircrm.fhir.store import FhirStore, Operation
from fhircrm.jobs import Job

AUDIT_JOB = "audit.write"
BATCH = 500


async def write_audit_event(conn: AsyncConnection, job: Job) -> None:
    # AuditEvents need no domain events or Subscriptions: the bare store, written through its batch path.
    event = audit_event(AuditRecord.from_json(job.payload))
    await FhirStore(conn).apply([Operation("POST", "AuditEvent", resource=event)])


async def write_audit_events(conn: AsyncConnection, jobs: list[Job]) -> None:
    events = [audit_event(AuditRecord.from_json(job.payload)) for job in jobs]
    await FhirStore(conn).apply([Operation("POST", "AuditEvent", resource=event) for event in events])


def install(_runtime, jobs, _consumers, _periodic) -> None:  # type: ignore[no-untyped-def]
    jobs.register(AUDIT_JOB, write_audit_event, batch_size=BATCH, max_attempts=20, batch_handler=write_audit_events)
