"""Freed and recovered slots for the dashboard: distinct Slots, so not a sum of per-Appointment cells.

The rows come from the store's read side (``FhirStore.dated``), so a figure never counts an Appointment its
caller could not search.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from fhircrm.fhir.store import FhirStore
from fhircrm.indicators.measures import ACTIVE, ATTENDED


async def slots(store: FhirStore, since: datetime, until: datetime) -> tuple[int, int]:
    """(freed, recovered): distinct Slots of cancelled Appointments, and those also held by a live one."""
    cancelled = store.dated("Appointment", "date", "status", ("cancelled",), since, until)
    freed = cancelled.referenced("slot", "Slot").subquery()
    live = store.dated("Appointment", "date", "status", (*ACTIVE, *ATTENDED), since, until).referenced("slot", "Slot")
    conn = store.conn
    freed_n = (await conn.execute(sa.select(sa.func.count(sa.distinct(freed.c.target_id))))).scalar_one()
    recovered = sa.select(sa.func.count(sa.distinct(freed.c.target_id))).where(freed.c.target_id.in_(live))
    return freed_n, (await conn.execute(recovered)).scalar_one()
