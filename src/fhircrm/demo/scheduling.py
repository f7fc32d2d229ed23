"""Slot grid bookkeeping so booked appointments never double-book a clinician.

Occupancy is one integer bitmask per (clinician, day): O(1) memory per busy day and
O(slots per day) per booking, which keeps generation linear in the number of
appointments even at 100k patients.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import fhircrm.demo.codes as c
from fhircrm.demo.roster import StaffMember
from fhircrm.demo.timeutil import is_weekday, iso, local, slot_start_minute, slots_per_day


@dataclass(frozen=True, slots=True)
class Booking:
    """A slot on a clinician's grid; times are computed once (they are read many times)."""

    clinician: StaffMember
    day: dt.date
    index: int
    minutes: int = field(init=False)
    start: dt.datetime = field(init=False)
    end: dt.datetime = field(init=False)

    def __post_init__(self) -> None:
        assert self.clinician.line is not None
        minutes = self.clinician.line.slot_minutes
        start = local(self.day, slot_start_minute(self.index, minutes))
        object.__setattr__(self, "minutes", minutes)
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", start + dt.timedelta(minutes=minutes))

    @property
    def slot_id(self) -> str:
        return grid_slot_id(self.clinician, self.day, self.index)


def grid_slot_id(clinician: StaffMember, day: dt.date, index: int) -> str:
    """Deterministic id; unique because a grid position is booked at most once."""
    assert clinician.line is not None
    minute = slot_start_minute(index, clinician.line.slot_minutes)
    return f"demo-slot-{clinician.index:04d}-{day:%Y%m%d}-{minute // 60:02d}{minute % 60:02d}"


def _day_offsets(max_shift: int) -> Iterator[int]:
    yield 0
    for k in range(1, max_shift + 1):
        yield k
        yield -k


class SlotBook:
    """Tracks which slot indices are taken on each clinician's day."""

    def __init__(self) -> None:
        self._taken: dict[tuple[int, int], int] = {}

    def is_taken(self, clinician: StaffMember, day: dt.date, index: int) -> bool:
        return bool(self._taken.get((clinician.index, day.toordinal()), 0) >> index & 1)

    def book(
        self,
        rng: random.Random,
        candidates: Sequence[StaffMember],
        day: dt.date,
        earliest: dt.date,
        latest: dt.date,
        *,
        max_shift: int = 7,
        tentative_only: bool = False,
        avoid_days: Collection[dt.date] = (),
    ) -> Booking | None:
        """Book a free slot near `day` (same day first, then +/-1, +/-2 ... days).

        Candidates are tried in order (preferred clinician first) on each day so
        continuity of care wins over the exact date. With `tentative_only` the
        slot is found but not marked taken (used for cancelled appointments,
        whose slot was released again). `avoid_days` keeps a patient to one visit a day.
        """
        for shift in _day_offsets(max_shift):
            when = day + dt.timedelta(days=shift)
            if when < earliest or when > latest or not is_weekday(when) or when in avoid_days:
                continue
            for clinician in candidates:
                assert clinician.line is not None
                n = slots_per_day(clinician.line.slot_minutes)
                key = (clinician.index, when.toordinal())
                mask = self._taken.get(key, 0)
                if mask == (1 << n) - 1:
                    continue
                first = rng.randrange(n)
                for k in range(n):
                    index = (first + k) % n
                    if not mask >> index & 1:
                        if not tentative_only:
                            self._taken[key] = mask | (1 << index)
                        return Booking(clinician, when, index)
        return None

    def free_indices(self, clinician: StaffMember, day: dt.date) -> Iterator[int]:
        assert clinician.line is not None
        mask = self._taken.get((clinician.index, day.toordinal()), 0)
        for index in range(slots_per_day(clinician.line.slot_minutes)):
            if not mask >> index & 1:
                yield index


def slot_resource(booking: Booking, status: str) -> dict[str, Any]:
    """A Slot on the clinician's Schedule (status busy | busy-tentative | free)."""
    clinician = booking.clinician
    assert clinician.line is not None and clinician.schedule_id is not None
    return {
        "resourceType": "Slot",
        "id": booking.slot_id,
        "meta": c.demo_meta(),
        "serviceType": [c.service_type(clinician.line)],
        "specialty": [c.specialty(clinician.line)],
        "schedule": c.ref("Schedule", clinician.schedule_id),
        "status": status,
        "start": iso(booking.start),
        "end": iso(booking.end),
    }
