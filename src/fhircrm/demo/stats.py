"""No-show statistics computed from FHIR R4 Appointment JSON.

Pure functions over plain dicts so the same code can check the synthetic data and
report on a live server's appointments. Only attended (``fulfilled``) and missed
(``noshow``) appointments enter the rates; cancelled, booked, etc. are ignored.

Definitions:
* lead time = ``start - created`` in whole days (floored; negative values, i.e.
  bookings recorded after the start, count as 0);
* prior no-shows = no-shows of the same patient whose ``start`` is strictly
  earlier than this appointment's ``start`` (appointments without a start cannot
  be ordered and are left out of this breakdown).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

LEAD_TIME_BANDS: tuple[str, ...] = ("0-2", "3-14", ">14")
PRIOR_NOSHOW_BANDS: tuple[str, ...] = ("none", ">=1")

_COUNTED = ("fulfilled", "noshow")


@dataclass(frozen=True)
class RateCell:
    """No-show count over attended + missed appointments in one group."""

    noshow: int = 0
    fulfilled: int = 0

    @property
    def total(self) -> int:
        return self.noshow + self.fulfilled

    @property
    def rate(self) -> float | None:
        """noshow / (noshow + fulfilled); None when the group is empty."""
        return self.noshow / self.total if self.total else None

    def as_dict(self) -> dict[str, Any]:
        return {"noshow": self.noshow, "fulfilled": self.fulfilled, "rate": self.rate}


@dataclass(frozen=True)
class NoShowStats:
    """Overall no-show rate and its breakdown by lead time and no-show history."""

    overall: RateCell
    by_lead_time: Mapping[str, RateCell] = field(default_factory=dict)
    by_prior_noshow: Mapping[str, RateCell] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (for APIs and CLI output)."""
        return {
            "overall": self.overall.as_dict(),
            "by_lead_time": {k: v.as_dict() for k, v in self.by_lead_time.items()},
            "by_prior_noshow": {k: v.as_dict() for k, v in self.by_prior_noshow.items()},
        }


def parse_fhir_datetime(value: str) -> dt.datetime:
    """Parse a FHIR dateTime/instant (any precision) to an aware datetime.

    Partial dates become the first instant of the period; values without an offset
    (dates, or times the server stored naively) are taken as UTC.
    """
    text = value.strip()
    if len(text) == 4:  # YYYY
        text += "-01-01"
    elif len(text) == 7:  # YYYY-MM
        text += "-01"
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def lead_time_days(created: str, start: str) -> int:
    """Whole days between booking and start (floored, never negative)."""
    delta = parse_fhir_datetime(start) - parse_fhir_datetime(created)
    return max(delta.days, 0)


def lead_time_band(days: int) -> str:
    """Map a lead time in whole days to one of LEAD_TIME_BANDS."""
    if days <= 2:
        return "0-2"
    if days <= 14:
        return "3-14"
    return ">14"


def patient_reference(appointment: Mapping[str, Any]) -> str | None:
    """The reference of the Patient participant ("Patient/123"), if any."""
    for participant in appointment.get("participant") or ():
        reference = (participant.get("actor") or {}).get("reference")
        if not reference:
            continue
        parts = reference.split("/_history/")[0].rstrip("/").split("/")
        if len(parts) >= 2 and parts[-2] == "Patient":
            return f"Patient/{parts[-1]}"
    return None


@dataclass
class _Counter:
    noshow: int = 0
    fulfilled: int = 0

    def add(self, is_noshow: bool) -> None:
        if is_noshow:
            self.noshow += 1
        else:
            self.fulfilled += 1

    def freeze(self) -> RateCell:
        return RateCell(noshow=self.noshow, fulfilled=self.fulfilled)


def noshow_stats(appointments: Iterable[Mapping[str, Any]]) -> NoShowStats:
    """Compute no-show rates overall, by lead-time band and by prior no-show history.

    Runs in O(n log n) (one sort per patient) and keeps only a small tuple per
    appointment, so it can consume a streamed search result.
    """
    overall = _Counter()
    by_lead = {band: _Counter() for band in LEAD_TIME_BANDS}
    by_prior = {band: _Counter() for band in PRIOR_NOSHOW_BANDS}
    # patient -> [(start, is_noshow)] of that patient's counted appointments
    history: dict[str, list[tuple[dt.datetime, bool]]] = defaultdict(list)

    for appt in appointments:
        status = appt.get("status")
        if status not in _COUNTED:
            continue
        is_noshow = status == "noshow"
        overall.add(is_noshow)
        start_raw, created_raw = appt.get("start"), appt.get("created")
        if start_raw and created_raw:
            by_lead[lead_time_band(lead_time_days(created_raw, start_raw))].add(is_noshow)
        patient = patient_reference(appt)
        if patient and start_raw:
            history[patient].append((parse_fhir_datetime(start_raw), is_noshow))

    for visits in history.values():
        visits.sort(key=lambda v: v[0])
        earlier_noshows = 0
        i = 0
        while i < len(visits):
            # Appointments sharing a start time are not "earlier" than each other.
            j = i
            while j < len(visits) and visits[j][0] == visits[i][0]:
                j += 1
            band = "none" if earlier_noshows == 0 else ">=1"
            for _, is_noshow in visits[i:j]:
                by_prior[band].add(is_noshow)
            earlier_noshows += sum(1 for _, is_noshow in visits[i:j] if is_noshow)
            i = j

    return NoShowStats(
        overall=overall.freeze(),
        by_lead_time={band: c.freeze() for band, c in by_lead.items()},
        by_prior_noshow={band: c.freeze() for band, c in by_prior.items()},
    )
