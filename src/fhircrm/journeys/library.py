"""The active journeys, read from the FHIR store (PlanDefinitions with a fhircrm journey identifier).

Kept in memory per database until a PlanDefinition changes (``fhir.stamped``: every lookup first reads the
store's version stamp of PlanDefinitions), so a write through the API, a transaction or ``fhircrm migrate``
takes effect for the next event on every worker, with no time-to-live and no write hook. A reload happens
inside the lookup the event is waiting on, so no event is handled without journeys while they reload.
"""

from __future__ import annotations

import logging

from fhircrm.fhir.stamped import StampedCache
from fhircrm.fhir.store import FhirStore
from fhircrm.journeys.definitions import Journey, JourneyError
from fhircrm.journeys.plandefinition import JOURNEY_SYSTEM, from_plan_definition

log = logging.getLogger(__name__)


class JourneyLibrary:
    def __init__(self) -> None:
        self._journeys = StampedCache("PlanDefinition", load_active)

    def invalidate(self) -> None:
        self._journeys.invalidate()

    async def active(self, store: FhirStore) -> list[Journey]:
        return await self._journeys.get(store)

    async def get(self, store: FhirStore, journey_id: str) -> Journey | None:
        return next((j for j in await self.active(store) if j.id == journey_id), None)


async def load_active(store: FhirStore) -> list[Journey]:
    found = await store.match_all("PlanDefinition", f"identifier={JOURNEY_SYSTEM}|&status=active")
    journeys = []
    for current in sorted(found, key=lambda c: c.fhir_id):
        try:
            journeys.append(from_plan_definition(current.content or {}))
        except (JourneyError, KeyError, IndexError, TypeError) as exc:
            log.warning("PlanDefinition/%s is not a usable journey: %s", current.fhir_id, exc)
    return journeys


#: The process-wide library the engine uses.
LIBRARY = JourneyLibrary()
