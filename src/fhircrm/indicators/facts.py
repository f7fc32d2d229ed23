"""What one Appointment adds to the appointment measures: its start and the (class, dimension, key) cells it counts
in. The one definition the indicators, the dashboard and the maintained daily counts share.

A class is the Appointment's status, plus ``late:cancelled`` for a cancellation within ``LATE_HOURS`` of the
start and ``confirmed:<status>`` when the patient participant accepted. A dimension is ``all`` (key ""), the
service type's label (``service``), each service-line code (``service-line``), each Location / PractitionerRole /
Practitioner actor (``actor``), each appointment-type code (``type``) and the latest RiskAssessment's band
(``band``; "" when none). Keys are index values, read through the store (``FhirStore.dated``), so a fact counts
what a search or a grouped count of the same rows would.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from fhircrm.clock import parse_fhir_datetime
from fhircrm.fhir.selections import Dated
from fhircrm.fhir.store import FhirStore
from fhircrm.indicators.slices import SERVICE_LINE_SYSTEM

STATUSES = (
    "proposed",
    "pending",
    "booked",
    "arrived",
    "fulfilled",
    "cancelled",
    "noshow",
    "entered-in-error",
    "checked-in",
    "waitlist",
)
ACTOR_TYPES = ("Location", "PractitionerRole", "Practitioner")
LATE_HOURS = 24
LATE = "late:cancelled"
#: index dates are naive UTC; every Appointment starts in between
EVER = (datetime(1, 1, 2, tzinfo=UTC), datetime(9999, 12, 30, tzinfo=UTC))

#: (class, dimension, key)
Cell = tuple[str, str, str]


def confirmed(participants: list[dict] | None) -> bool:
    """The patient participant accepted (other participants' answers do not count)."""
    return any(
        (p.get("actor") or {}).get("reference", "").startswith("Patient/") and p.get("status") == "accepted"
        for p in participants or []
    )


def late(updated: str | None, start: str | None) -> bool:
    """Cancelled (last changed) less than ``LATE_HOURS`` before the start."""
    if not updated or not start:
        return False
    return parse_fhir_datetime(updated) > parse_fhir_datetime(start) - timedelta(hours=LATE_HOURS)


def confirmed_class(status: str) -> str:
    return f"confirmed:{status}"


@dataclass
class Fact:
    start: datetime  # naive UTC, as index dates are
    classes: set[str]
    keys: set[tuple[str, str]] = field(default_factory=lambda: {("all", "")})

    def cells(self) -> set[Cell]:
        return {(c, d, k) for c in self.classes for d, k in self.keys}


def all_appointments(store: FhirStore) -> Dated:
    """Every Appointment with a start and a status the store's caller may search."""
    return store.dated("Appointment", "date", "status", STATUSES, *EVER)


async def facts(rows: Dated) -> dict[str, Fact]:
    """{Appointment id: Fact} of ``rows``: seven index reads, however many rows."""
    out = {ident: Fact(start, {status}) for ident, start, status in await rows.keyed()}
    if not out:
        return out
    for ident, updated, start, participants in await rows.elements_by_id(
        [("meta", "lastUpdated"), ("start",), ("participant",)]
    ):
        if (fact := out.get(ident)) is None:
            continue
        status = next(iter(fact.classes))
        if status == "cancelled" and late(updated, start):
            fact.classes.add(LATE)
        if confirmed(participants):
            fact.classes.add(confirmed_class(status))
    label, joins = rows.token_label("service-type")
    await _add(out, "service", rows.keyed(sa.func.coalesce(label, ""), joins))
    actor, joins = rows.reference("actor", ACTOR_TYPES)
    await _add(out, "actor", rows.keyed(actor, joins))
    band, joins = rows.referrer_code("RiskAssessment", "basis", "risk")
    await _add(out, "band", rows.keyed(sa.func.coalesce(band, ""), joins))
    for dimension, param, system in (
        ("service-line", "service-type", SERVICE_LINE_SYSTEM),
        ("type", "appointment-type", None),
    ):
        code, joins = rows.token(param, system)
        await _add(out, dimension, rows.keyed(code, joins))
    return out


async def _add(out: dict[str, Fact], dimension: str, rows) -> None:  # type: ignore[no-untyped-def]
    for ident, _start, _code, key in await rows:
        if key is not None and (fact := out.get(ident)) is not None:
            fact.keys.add((dimension, str(key)))


def tally(facts: dict[str, Fact] | list[Fact]) -> dict[Cell, int]:
    """{cell: Appointments}."""
    out: dict[Cell, int] = defaultdict(int)
    for fact in facts.values() if isinstance(facts, dict) else facts:
        for cell in fact.cells():
            out[cell] += 1
    return out
