"""What is read from the store once and kept until the store's resources of one type change.

Every lookup first reads the store's version stamp of the type (``FhirStore.version_stamp``: how many there are
and the sum of their version numbers, which every create, update and delete raises), so a write through the API,
a transaction or ``fhircrm migrate`` takes effect at the next lookup on every node, with no time-to-live and no
write hook. Kept per database (tests and tools open several).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from fhircrm.fhir.store import FhirStore

T = TypeVar("T")


class StampedCache(Generic[T]):
    def __init__(self, resource_type: str, load: Callable[[FhirStore], Awaitable[T]]) -> None:
        self.resource_type = resource_type
        self._load = load
        self._cache: dict[str, tuple[tuple[int, int], T]] = {}

    def invalidate(self) -> None:
        self._cache.clear()

    async def get(self, store: FhirStore) -> T:
        key = str(store.conn.engine.url)
        stamp = await store.version_stamp(self.resource_type)
        cached = self._cache.get(key)
        if cached and cached[0] == stamp:
            return cached[1]
        value = await self._load(store)  # read after the stamp: a write in between only means one more reload
        self._cache[key] = (stamp, value)
        return value
