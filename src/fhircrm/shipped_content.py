"""What fhircrm ships as data, put in place by ``fhircrm migrate`` and at start-up: the default journeys (as
PlanDefinitions) and the SubscriptionTopics (Basic form).

Each kind is installed in one transaction, on PostgreSQL under an advisory lock of its own, so replicas starting
together install it once. This sits above the packages (it opens the store with its listeners, and the
subscriptions package is one of those listeners), as the command-line store does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from fhircrm.config import Settings
from fhircrm.fhir.access import ServiceScope
from fhircrm.fhir.store import FhirStore
from fhircrm.journeys.load import install_defaults
from fhircrm.stores import open_store
from fhircrm.subscriptions.topic_library import install_shipped


async def _install(
    engine: AsyncEngine, settings: Settings, scope: str, lock: int, install: Callable[[FhirStore], Awaitable[dict]]
) -> dict[str, str]:
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({lock:d})")
        return await install(open_store(conn, settings, policy=ServiceScope(scope)))


async def install_default_journeys(engine: AsyncEngine, settings: Settings) -> dict[str, str]:
    """``journeys.load.install_defaults``, unless the settings turn the shipped journeys off."""
    if not settings.journeys_install_defaults:
        return {}
    return await _install(engine, settings, "journeys", 7002, install_defaults)


async def install_shipped_topics(engine: AsyncEngine, settings: Settings) -> dict[str, str]:
    """``subscriptions.topic_library.install_shipped``: Subscriptions to the shipped topics work at once."""
    return await _install(engine, settings, "subscription-topics", 7003, install_shipped)
