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

#: what an Appointment's cells are read from: its search parameters below (date, status, service-type,
#: appointment-type, actor) and the elements ``facts`` reads (start, participant; meta.lastUpdated when cancelled)
ELEMENTS = ("status", "start", "participant", "serviceType", "appointmentType")
#: what its band is read from: the RiskAssessments' basis and risk (prediction.qualitativeRisk)
BAND_ELEMENTS = ("basis", "prediction")


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


def same_cells(resource_type: str, previous: dict | None, current: dict | None) -> bool:
    """Both versions of an Appointment (or of a RiskAssessment, for the band of the ones it names) give the
    Appointments the same cells: they agree on every element the cells are read from."""
    if previous is None or current is None:
        return False
    if resource_type == "RiskAssessment":
        return all(previous.get(name) == current.get(name) for name in BAND_ELEMENTS)
    if any(previous.get(name) != current.get(name) for name in ELEMENTS):
        return False
    return current.get("status") != "cancelled" or _updated(previous) == _updated(current)


def _updated(content: dict) -> object:
    return (content.get("meta") or {}).get("lastUpdated")


def all_appointments(store: FhirStore) -> Dated:
    """Every Appointment with a start and a status the store's caller may search."""
    return store.dated("Appointment", "date", "status", STATUSES, *EVER)


async def facts(rows: Dated) -> dict[str, Fact]:
    """{Appointment id: Fact} of ``rows``: three index reads, however many rows."""
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
    keys = [("service", sa.func.coalesce(label, ""), joins)]
    actor, joins = rows.reference("actor", ACTOR_TYPES)
    keys.append(("actor", actor, joins))
    band, joins = rows.referrer_code("RiskAssessment", "basis", "risk")
    keys.append(("band", sa.func.coalesce(band, ""), joins))
    for dimension, param, system in (
        ("service-line", "service-type", SERVICE_LINE_SYSTEM),
        ("type", "appointment-type", None),
    ):
        code, joins = rows.token(param, system)
        keys.append((dimension, code, joins))
    for ident, dimension, key in await rows.keys(keys):
        if key is not None and (fact := out.get(ident)) is not None:
            fact.keys.add((dimension, key))
    return out


def tally(facts: dict[str, Fact] | list[Fact]) -> dict[Cell, int]:
    """{cell: Appointments}."""
    out: dict[Cell, int] = defaultdict(int)
    for fact in facts.values() if isinstance(facts, dict) else facts:
        for cell in fact.cells():
            out[cell] += 1
    return out
