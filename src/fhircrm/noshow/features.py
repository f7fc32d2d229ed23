"""Features of a booked appointment, from its FHIR resources, as known at prediction time.

``History`` holds the patient's appointments (start, status, booked) sorted by start; every count it gives is
taken at the booking instant (Appointment.created): outcomes only of appointments that started before it, other
bookings only if they were made at or before it. A model trained on these never learns from the future.

Each feature, and the FHIR it comes from (all readable when the booking arrives):

- lead time (``log_lead_days`` and the ``lead_*`` bins): Appointment.start - Appointment.created;
- ``prior_noshows``, ``any_prior_noshow``, ``prior_cancellations``, ``log_prior_visits``: the patient's
  Appointments with status noshow / cancelled / fulfilled-arrived-checked-in that started before the booking;
- ``prior_noshow_rate``: those no-shows over the attended-or-missed ones, smoothed towards 0.2 (one pseudo-visit),
  minus 0.2 so that no history is the reference level 0;
- ``log_days_since_last``: days from the patient's last earlier appointment to the booking (0 when none);
- ``open_bookings``: the patient's other appointments booked at or before this booking and starting after it;
- ``same_day_bookings``: the patient's other appointments booked earlier the same day (a booking session);
- ``booked_afternoon``: the booking was made after 12:00 UTC (Appointment.created);
- age bins and polynomial: Patient.birthDate at the appointment date;
- weekday and hour of the appointment: Appointment.start;
- ``first_visit``: no earlier visit and no FOLLOWUP appointmentType; ``confirmed``: the patient participant
  accepted; ``reminders`` (and ``reminders_x_log_lead``): completed Communications based on the Appointment;
- ``log_distance_km``: Patient address geolocation to the Location position; ``service_*``: serviceType codes.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from fhircrm.timers.clock import parse_fhir_datetime

SERVICE_LINE_SYSTEM = "http://fhircrm.org/CodeSystem/service-line"
SERVICE_LINES = ("primary-care", "cardiology", "dermatology", "pediatrics", "physiotherapy")
GEOLOCATION = "http://hl7.org/fhir/StructureDefinition/geolocation"
VISITED = frozenset({"fulfilled", "arrived", "checked-in"})

FEATURES: tuple[str, ...] = (
    "log_lead_days",
    "same_day",
    "lead_1_2d",
    "lead_3_7d",
    "lead_8_14d",
    "lead_15_30d",
    "lead_31d_plus",
    "prior_noshows",
    "any_prior_noshow",
    "prior_cancellations",
    "log_prior_visits",
    "age_child",
    "age_young_adult",
    "age_adult",
    "age_senior",
    "age_per_100",
    "age_per_100_sq",
    "age_per_100_cu",
    "weekday_monday",
    "weekday_friday",
    "weekend",
    "hour_early",
    "hour_late",
    "prior_noshow_rate",
    "log_days_since_last",
    "open_bookings",
    "same_day_bookings",
    "booked_afternoon",
    "first_visit",
    "confirmed",
    "reminders",
    "reminders_x_log_lead",
    "log_distance_km",
    *(f"service_{line}" for line in SERVICE_LINES),
)


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

    def prior_counts(self, before: datetime) -> tuple[int, int, int]:
        """(no-shows, cancellations, visits) among appointments that started before ``before``."""
        earlier = self.statuses[: bisect.bisect_left(self.starts, before)]
        return (
            sum(s == "noshow" for s in earlier),
            sum(s == "cancelled" for s in earlier),
            sum(s in VISITED for s in earlier),
        )

    def last_start(self, before: datetime) -> datetime | None:
        index = bisect.bisect_left(self.starts, before)
        return self.starts[index - 1] if index else None

    def bookings_known(self, at: datetime, *, exclude: str) -> tuple[int, int]:
        """(open, same-day): other appointments booked at or before ``at`` that start after it, and those
        booked earlier on the same calendar day."""
        first = bisect.bisect_right(self.starts, at)
        open_ = same_day = 0
        for i in range(len(self.starts)):
            made = self.booked[i]
            if made is None or made > at or self.ids[i] == exclude:
                continue
            open_ += i >= first
            same_day += made.date() == at.date()
        return open_, same_day


def booked_at(appointment: dict, fallback: datetime) -> datetime:
    created = appointment.get("created")
    return parse_fhir_datetime(created) if created else fallback


def patient_ref(appointment: dict) -> str | None:
    for p in appointment.get("participant", []):
        ref = (p.get("actor") or {}).get("reference", "")
        if ref.startswith("Patient/"):
            return ref
    return None


def age_on(birth_date: str | None, day: date) -> float | None:
    if not birth_date:
        return None
    try:
        born = date.fromisoformat(birth_date[:10] if len(birth_date) >= 10 else f"{birth_date[:4]}-07-01")
    except ValueError:
        return None
    return (day - born).days / 365.25


def coordinates(resource: dict | None) -> tuple[float, float] | None:
    if not resource:
        return None
    if isinstance(resource.get("position"), dict):  # Location
        pos = resource["position"]
        return float(pos["latitude"]), float(pos["longitude"])
    for address in resource.get("address", []):
        for ext in address.get("extension", []):
            if ext.get("url") == GEOLOCATION:
                parts = {e["url"]: e.get("valueDecimal") for e in ext.get("extension", [])}
                if parts.get("latitude") is not None and parts.get("longitude") is not None:
                    return float(parts["latitude"]), float(parts["longitude"])
    return None


def distance_km(a: tuple[float, float] | None, b: tuple[float, float] | None) -> float | None:
    if a is None or b is None:
        return None
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(h))


def appointment_features(
    appointment: dict,
    *,
    patient: dict | None,
    history: History,
    reminders: int = 0,
    distance: float | None = None,
    now: datetime,
) -> dict[str, float]:
    """The feature values of one appointment (missing facts count as the reference level, 0)."""
    start = parse_fhir_datetime(appointment["start"])
    booked = min(booked_at(appointment, now), start)
    lead_days = max((start - booked).total_seconds() / 86400, 0.0)
    noshows, cancellations, visits = history.prior_counts(booked)
    last = history.last_start(booked)
    open_bookings, same_day_bookings = history.bookings_known(booked, exclude=appointment.get("id", ""))
    age = age_on((patient or {}).get("birthDate"), start.date())
    codes = {c.get("code") for c in appointment.get("appointmentType", {}).get("coding", [])}
    lines = {
        c.get("code")
        for cc in appointment.get("serviceType", []) + appointment.get("serviceCategory", [])
        for c in cc.get("coding", [])
        if c.get("system") == SERVICE_LINE_SYSTEM
    }
    accepted = any(
        p.get("status") == "accepted"
        for p in appointment.get("participant", [])
        if (p.get("actor") or {}).get("reference", "").startswith("Patient/")
    )
    weekday, hour = start.weekday(), start.hour
    values = {
        "log_lead_days": math.log1p(lead_days),
        "same_day": float(lead_days < 1),
        "lead_1_2d": float(1 <= lead_days < 3),
        "lead_3_7d": float(3 <= lead_days < 8),
        "lead_8_14d": float(8 <= lead_days < 15),
        "lead_15_30d": float(15 <= lead_days < 31),
        "lead_31d_plus": float(lead_days >= 31),
        "prior_noshows": float(min(noshows, 3)),
        "any_prior_noshow": float(noshows > 0),
        "prior_cancellations": float(min(cancellations, 3)),
        "log_prior_visits": math.log1p(visits),
        "age_child": float(age is not None and age < 18),
        "age_young_adult": float(age is not None and 18 <= age < 30),
        "age_adult": float(age is not None and 30 <= age < 45),
        "age_senior": float(age is not None and age >= 65),
        "age_per_100": (age or 0.0) / 100,
        "age_per_100_sq": ((age or 0.0) / 100) ** 2,
        "age_per_100_cu": ((age or 0.0) / 100) ** 3,
        "weekday_monday": float(weekday == 0),
        "weekday_friday": float(weekday == 4),
        "weekend": float(weekday >= 5),
        "hour_early": float(0 < hour < 10),
        "hour_late": float(hour >= 16),
        "prior_noshow_rate": (noshows + 0.2) / (noshows + visits + 1) - 0.2,  # 0 with no history
        "log_days_since_last": math.log1p(max((booked - last).total_seconds() / 86400, 0.0)) if last else 0.0,
        "open_bookings": float(min(open_bookings, 5)),
        "same_day_bookings": float(min(same_day_bookings, 5)),
        "booked_afternoon": float(booked.astimezone(UTC).hour >= 12),
        "first_visit": float("FOLLOWUP" not in codes and visits == 0),
        "confirmed": float(accepted),
        "reminders": float(min(reminders, 3)),
        "reminders_x_log_lead": float(min(reminders, 3)) * math.log1p(lead_days),
        "log_distance_km": math.log1p(distance) if distance is not None else 0.0,
    }
    for line in SERVICE_LINES:
        values[f"service_{line}"] = float(line in lines)
    return values


LABELS = {"noshow": 1, "fulfilled": 0, "arrived": 0, "checked-in": 0}


def label(appointment: dict) -> int | None:
    """1 for a no-show, 0 for a kept appointment, None when the outcome is not known (booked, cancelled)."""
    return LABELS.get(appointment.get("status", ""))
