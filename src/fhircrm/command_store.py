"""The store a command-line run works in: an engine of its own, one transaction (or, for reads, a connection),
the engine disposed after, under the command's named service scope.

The one way ``fhircrm <area> ...`` commands open a store, so none rebuilds engine -> begin -> open_store -> dispose.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fhircrm.config import Settings, get_settings
from fhircrm.db import create_engine
from fhircrm.fhir.access import ServiceScope
from fhircrm.fhir.store import FhirStore
from fhircrm.stores import open_store


@asynccontextmanager
async def command_store(
    scope: str, settings: Settings | None = None, *, transaction: bool = True
) -> AsyncIterator[FhirStore]:
    """A store for ``scope`` (e.g. ``"journeys-cli"``): committed on success when ``transaction``, otherwise on a
    plain connection (what is not committed is rolled back)."""
    settings = settings or get_settings()
    engine = create_engine(settings.database_url)
    try:
        async with engine.begin() if transaction else engine.connect() as conn:
            yield open_store(conn, settings, policy=ServiceScope(scope))
    finally:
        await engine.dispose()
