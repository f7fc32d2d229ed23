"""A patient's appointments as known at one instant: the only way features see the past.

Two rules keep the future out of every count:

- an outcome (no-show, visit, cancellation) counts only from the calendar day (UTC) after the appointment's
  day: an appointment's day may carry no time of day (imports, the Vitória data), and even when it does, the
  outcome of a visit earlier the same day is not reliably recorded when a booking is made;
- another booking counts only if it was made (Appointment.created) at or before the instant.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from fhircrm.clock import parse_fhir_datetime

VISITED = frozenset({"fulfilled", "arrived", "checked-in"})


def day_start(instant: datetime) -> datetime:
    """Midnight (UTC) of the instant's day."""
    return instant.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True, slots=True)
class Past:
    """Outcomes of the patient's appointments on days before the instant."""

    noshows: int = 0
    cancellations: int = 0
    visits: int = 0
    last_day: datetime | None = None  # start of the latest of those appointments


@dataclass(frozen=True, slots=True)
class Known:
    """The patient's other bookings made at or before the instant."""

    total: int = 0  # any day, any status
    upcoming: int = 0  # starting after the instant
    same_session: int = 0  # made the same calendar day as the instant
    same_visit_day: int = 0  # on the same day as the appointment being scored


@dataclass(slots=True)
class History:
    """One patient's appointments: sorted starts with their statuses and booking instants (None: unknown)."""

    starts: list[datetime] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    booked: list[datetime | None] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, appointments: list[dict]) -> History:
        rows = sorted(
            (
                parse_fhir_datetime(a["start"]),
                a.get("status", ""),
                parse_fhir_datetime(a["created"]) if a.get("created") else None,
                a.get("id", ""),
            )
            for a in appointments
            if a.get("start")
        )
        return cls([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows])

    def past(self, at: datetime) -> Past:
        """Outcomes of appointments whose day ended before ``at``'s day began (UTC): never the same day."""
        end = bisect.bisect_left(self.starts, day_start(at))
        earlier = self.statuses[:end]
        return Past(
            noshows=sum(s == "noshow" for s in earlier),
            cancellations=sum(s == "cancelled" for s in earlier),
            visits=sum(s in VISITED for s in earlier),
            last_day=self.starts[end - 1] if end else None,
        )

    def known(self, at: datetime, *, exclude: str, visit: datetime) -> Known:
        """Other bookings made at or before ``at`` (the one being scored, ``exclude``, left out)."""
        visit_day, session_day = day_start(visit), day_start(at)
        total = upcoming = session = same_visit_day = 0
        for start, made, ident in zip(self.starts, self.booked, self.ids, strict=True):
            if made is None or made > at or ident == exclude:
                continue
            total += 1
            upcoming += start > at
            session += made >= session_day
            same_visit_day += visit_day <= start < visit_day + timedelta(days=1)
        return Known(total, upcoming, session, same_visit_day)
