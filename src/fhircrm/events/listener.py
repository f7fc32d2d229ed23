"""The store listener that turns every write into its domain events, in the writing transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.events.bus import emit_many
from fhircrm.events.derive import derive
from fhircrm.fhir.changes import Change


async def emit_derived_events(conn: AsyncConnection, changes: list[Change]) -> None:
    await emit_many(conn, [event for change in changes for event in derive(change.previous, change.current)])
