"""Wire the audit trail into the worker: the job kind that turns recorded ``AuditRecord``s into AuditEvents."""

from __future__ import annotations

from fhircrm.audit.record import AUDIT_JOB
from fhircrm.audit.writer import BATCH, MAX_ATTEMPTS, write_audit_event, write_audit_events
from fhircrm.runtime import Runtime
from fhircrm.wiring import Wiring


def install(wiring: Wiring, runtime: Runtime) -> None:
    wiring.jobs.register(
        AUDIT_JOB, write_audit_event, batch_size=BATCH, max_attempts=MAX_ATTEMPTS, batch_handler=write_audit_events
    )
