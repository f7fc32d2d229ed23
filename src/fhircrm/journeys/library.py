"""The active journeys, read from the FHIR store (PlanDefinitions with a fhircrm journey identifier).

Kept in memory per database until a PlanDefinition changes: every lookup first reads the store's version stamp
of PlanDefinitions (how many there are and the sum of their version numbers, which every create, update and
delete raises), so a write through the API, a transaction or ``fhircrm migrate`` takes effect for the next
event on every worker, with no time-to-live and no write hook. The stamp is one indexed aggregate over a
handful of rows. A reload happens inside the lookup the event is waiting on, so no event is handled without
journeys while they reload.
"""

from __future__ import annotations

import logging

from fhircrm.fhir.store import FhirStore
from fhircrm.journeys.definitions import Journey, JourneyError
from fhircrm.journeys.plandefinition import JOURNEY_SYSTEM, from_plan_definition

log = logging.getLogger(__name__)
Stamp = tuple[int, int]


async def plan_definitions_stamp(store: FhirStore) -> Stamp:
    """(count, sum of versions) of the store's PlanDefinitions: changes with every write to one (the store's
    read side, ``FhirStore.version_stamp``)."""
    return await store.version_stamp("PlanDefinition")


class JourneyLibrary:
    def __init__(self) -> None:
        self._cache: dict[str, tuple[Stamp, list[Journey]]] = {}

    def invalidate(self) -> None:
        self._cache.clear()

    async def active(self, store: FhirStore) -> list[Journey]:
        key = str(store.conn.engine.url)
        stamp = await plan_definitions_stamp(store)
        cached = self._cache.get(key)
        if cached and cached[0] == stamp:
            return cached[1]
        journeys = await load_active(store)  # read after the stamp: a write in between only means one more reload
        self._cache[key] = (stamp, journeys)
        return journeys

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
