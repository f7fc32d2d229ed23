"""What an audited action is, and how it is queued."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import IntEnum

from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.fhir.search.dates import format_instant
from fhircrm.jobs import enqueue
from fhircrm.jobs.queue import utcnow

AUDIT_JOB = "audit.write"  # the job kind the worker turns into AuditEvents (fhircrm.audit.writer)


class Outcome(IntEnum):
    """AuditEvent.outcome (http://hl7.org/fhir/audit-event-outcome)."""

    SUCCESS = 0
    MINOR_FAILURE = 4  # the request was refused or invalid (4xx)
    SERIOUS_FAILURE = 8  # the server failed (5xx)


#: FHIR interaction -> (AuditEvent.action, restful-interaction subtype)
ACTIONS = {
    "read": ("R", "read"),
    "vread": ("R", "vread"),
    "search": ("E", "search-type"),
    "search-system": ("E", "search-system"),
    "history": ("R", "history-instance"),
    "create": ("C", "create"),
    "update": ("U", "update"),
    "patch": ("U", "patch"),
    "delete": ("D", "delete"),
    "transaction": ("E", "transaction"),
    "batch": ("E", "batch"),
    "operation": ("E", "operation"),
    "export": ("R", "operation"),
    "login": ("E", "login"),
    "message-sent": ("E", "create"),
    "capabilities": ("R", "capabilities"),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditRecord:
    """Who did what, to which resources, from where, with what outcome. References only: never content."""

    interaction: str  # a key of ACTIONS
    outcome: Outcome
    recorded: str  # FHIR instant
    user: str | None = None  # fhirUser reference or subject
    client_id: str | None = None
    source_ip: str | None = None
    resource_type: str | None = None
    entities: tuple[str, ...] = ()  # "Patient/1", "Appointment/9/_history/2"
    patients: tuple[str, ...] = ()  # the patients whose data was touched, for patient-centric audit queries
    query: str | None = None  # the search query string (parameter names and values; ids, not names)
    status: int | None = None  # HTTP status
    description: str | None = None  # a short, PHI-free reason for failures
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        data = asdict(self)
        data["outcome"] = int(self.outcome)
        return data

    @classmethod
    def from_json(cls, data: dict) -> AuditRecord:
        values = {**data, "outcome": Outcome(data["outcome"])}
        values["entities"] = tuple(data.get("entities", ()))
        values["patients"] = tuple(data.get("patients", ()))
        return cls(**values)


def now_instant() -> str:
    return format_instant(utcnow())


async def record(conn: AsyncConnection, audit: AuditRecord) -> None:
    """Queue ``audit`` in the caller's transaction."""
    await enqueue(conn, AUDIT_JOB, audit.to_json())
