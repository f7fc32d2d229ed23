"""Open the FHIR store the way every service, route and job must: with the write-time listeners attached.

Constructing ``FhirStore`` directly skips them (no domain events, no Subscription notifications), which only the
store's own tests should do.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.config import Settings, get_settings
from fhircrm.events.listener import emit_derived_events
from fhircrm.fhir.access import AccessPolicy
from fhircrm.fhir.changes import ChangeListener
from fhircrm.fhir.store import FhirStore
from fhircrm.indicators.upkeep import keep_counts
from fhircrm.subscriptions.publisher import listener_for, notify_subscribers

#: The write-time listeners of fhircrm's own writes; ``open_store`` gives the publisher the caller's access.
LISTENERS: tuple[ChangeListener, ...] = (emit_derived_events, keep_counts, notify_subscribers)


def open_store(conn: AsyncConnection, settings: Settings | None = None, *, policy: AccessPolicy) -> FhirStore:
    """``policy``: whom the store works for, always named: the caller's ``SmartPolicy`` (API requests, UI pages),
    or a ``ServiceScope("timers")`` for fhircrm's own services and jobs. There is no unscoped default."""
    settings = settings or get_settings()
    return FhirStore(
        conn,
        default_count=settings.default_page_size,
        max_count=settings.max_page_size,
        max_include=settings.max_include_results,
        listeners=(emit_derived_events, keep_counts, listener_for(settings, policy)),
        policy=policy,
    )
