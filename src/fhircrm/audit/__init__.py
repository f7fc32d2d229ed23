"""The audit trail: an AuditEvent for every read, search, write, export, login, message sent and refusal.

Requests record a small ``AuditRecord`` into the job outbox (one row, in the request's own transaction, or in a
transaction of its own when the request was refused and rolled back); a worker turns records into AuditEvent
resources in batches. So auditing is durable and costs the request one insert, not a FHIR write.
"""

from fhircrm.audit.record import AUDIT_JOB, AuditRecord, Outcome, record

__all__ = ["AUDIT_JOB", "AuditRecord", "Outcome", "record"]
