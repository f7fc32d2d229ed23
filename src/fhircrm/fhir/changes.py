"""What a write changed, handed to listeners in the writing transaction (events, our Subscriptions).

Listeners run inside the same transaction as the write: what they enqueue commits with it or not at all
(Medplum's rule: decide at write time, deliver later).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass(frozen=True, slots=True)
class Change:
    resource_type: str
    fhir_id: str
    method: str  # POST | PUT | PATCH | DELETE
    previous: dict | None  # the version before (None: created, or re-created after a delete)
    current: dict | None  # the version written (None: deleted)


ChangeListener = Callable[[AsyncConnection, list[Change]], Awaitable[None]]
