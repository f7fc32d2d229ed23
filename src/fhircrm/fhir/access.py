"""Who may see and change what: the store's access policy (Medplum's per-request repository, in spirit).

The FHIR core knows nothing of tokens. A policy answers, for an interaction on a type, which resources the
caller may touch, as OR-ed *branches* of AND-ed search parameters, e.g. a SMART ``patient/Observation.rs?
category=laboratory`` token for patient 7 gives ``[[("subject", "Patient/7"), ("category", "laboratory")],
[("performer", "Patient/7"), ...]]``. The store enforces a branch list with the same search compiler clients
use: a read is allowed if the resource matches, a search gets the branches as an extra condition, a write must
leave a resource that matches. ``None`` means unrestricted; a policy raises ``Forbidden`` to refuse outright.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

Branches = list[list[tuple[str, str]]] | None

#: Types whose resources nobody may change or delete through the API once written (append-only records).
APPEND_ONLY = frozenset({"AuditEvent"})


class AccessPolicy(Protocol):
    def allow(self, interaction: str, resource_type: str) -> Branches:
        """``interaction``: read, vread, history-instance, search, history-type, history-system,
        search-system, create, update, patch, delete, operation, notify. Raise Forbidden when not allowed at all.

        A policy may also define ``check_change(resource_type, before, after)`` (raise Forbidden for a write
        whose content it refuses, e.g. someone changing their own roles) and ``async after_write(conn, changes)``
        (e.g. audit role changes); the store calls them when present, inside the writing transaction."""
        ...


@dataclass(frozen=True, slots=True)
class ServiceScope:
    """fhircrm's own work, not a user's: a worker job, a periodic sweep, a route whose caller is checked by other
    means (a provider's signature, a signed link). It reaches everything, like the store without a policy, but it
    is named (``ServiceScope("timers")``), so that no store is unscoped by default and a reader or a review sees
    which service opened it (``str(scope)``: ``service:timers``)."""

    name: str

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a service scope needs a name")

    def allow(self, interaction: str, resource_type: str) -> Branches:
        return None

    def __str__(self) -> str:
        return f"service:{self.name}"
