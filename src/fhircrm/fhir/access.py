"""Who may see and change what: the store's access policy (Medplum's per-request repository, in spirit).

The FHIR core knows nothing of tokens. A policy answers, for an interaction on a type, which resources the
caller may touch, as OR-ed *branches* of AND-ed search parameters, e.g. a SMART ``patient/Observation.rs?
category=laboratory`` token for patient 7 gives ``[[("subject", "Patient/7"), ("category", "laboratory")],
[("performer", "Patient/7"), ...]]``. The store enforces a branch list with the same search compiler clients
use: a read is allowed if the resource matches, a search gets the branches as an extra condition, a write must
leave a resource that matches. ``None`` means unrestricted; a policy raises ``Forbidden`` to refuse outright.
"""

from __future__ import annotations

from typing import Protocol

Branches = list[list[tuple[str, str]]] | None

#: Types whose resources nobody may change or delete through the API once written (append-only records).
APPEND_ONLY = frozenset({"AuditEvent"})


class AccessPolicy(Protocol):
    def allow(self, interaction: str, resource_type: str) -> Branches:
        """``interaction``: read, vread, history-instance, search, history-type, history-system,
        search-system, create, update, patch, delete. Raise Forbidden when not allowed at all."""
        ...
