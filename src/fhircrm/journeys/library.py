"""The active journeys, read from the FHIR store (PlanDefinitions with a fhircrm journey identifier) and kept
for ``journeys_cache_seconds``, so an edit through the API takes effect within that time, without a deploy."""

from __future__ import annotations

import logging
import time

from fhircrm.fhir.store import FhirStore
from fhircrm.journeys.definitions import Journey, JourneyError
from fhircrm.journeys.plandefinition import JOURNEY_SYSTEM, from_plan_definition

log = logging.getLogger(__name__)


class JourneyLibrary:
    def __init__(self, *, ttl_seconds: float = 30.0) -> None:
        self.ttl_seconds = ttl_seconds
        self._cache: dict[str, tuple[float, list[Journey]]] = {}

    def invalidate(self) -> None:
        self._cache.clear()

    async def active(self, store: FhirStore) -> list[Journey]:
        key = str(store.conn.engine.url)
        cached = self._cache.get(key)
        if cached and time.monotonic() - cached[0] < self.ttl_seconds:
            return cached[1]
        journeys = await load_active(store)
        self._cache[key] = (time.monotonic(), journeys)
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
