"""Features of a booked appointment, from its FHIR resources, as known at prediction time.

The prediction instant is the booking (Appointment.created) unless told otherwise; every history count goes
through ``History`` (history.py), which sees outcomes only of appointments on earlier days and other bookings
only if they were made by then. A model trained on these never learns from the future.

Each feature, and the FHIR it comes from (all readable when the booking arrives):

- lead time (``log_lead_days`` and the ``lead_*`` bins): calendar days from Appointment.created to .start;
- ``prior_noshows``, ``any_prior_noshow``, ``prior_cancellations``, ``log_prior_visits``: the patient's
  Appointments with status noshow / cancelled / fulfilled-arrived-checked-in on days before the instant;
- ``prior_noshow_rate``: those no-shows over the attended-or-missed ones, smoothed towards 0.2 (one pseudo-visit),
  minus 0.2 so that no history is the reference level 0;
- ``log_days_since_last``: days from the patient's last of those appointments to the instant (0 when none);
- ``log_prior_bookings``: all the patient's other appointments booked by the instant (a regular patient);
- ``open_bookings``: those starting after the instant; ``same_day_bookings``: those booked the same day (a
  booking session); ``same_visit_day``: those on the same day as this appointment (a multi-visit day);
- age bands, ``same_day_x_child`` (a same-day visit for a child: usually an acute one) and ``male``:
  Patient.birthDate at the appointment date and Patient.gender;
- weekday and hour of the appointment: Appointment.start; ``booked_*``: hour (UTC) of Appointment.created;
- ``first_visit``: no earlier visit and no FOLLOWUP appointmentType; ``confirmed``: the patient participant
  accepted; ``reminders`` (and ``reminders_x_log_lead``): completed Communications based on the Appointment;
- ``log_distance_km``: Patient address geolocation to the Location position; ``service_*``: serviceType codes;
- ``condition_*`` and ``disability``: the patient's active Conditions (SNOMED CT) recorded by the instant;
  ``welfare_coverage`` / ``self_pay``: an active welfare (v3 ActCode SUBSIDIZ...) / self-pay Coverage started by
  then (ehr_facts.py);
- ``district_rate`` / ``practitioner_rate``: how much more often the patient's ``address.district`` / the
  Practitioner's appointments were missed than all, from earlier days only, shrunk towards the overall rate;
- ``years_old``: the age itself (0 when unknown), for models that find their own cut points.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

from fhircrm.clock import parse_fhir_datetime
from fhircrm.noshow.ehr_facts import (
    CONDITION_FEATURES,
    Facts,
    NoRates,
    Rates,
    condition_values,
    district,
    practitioner,
    reminders_sent,
    self_pay,
    welfare_coverage,
)
from fhircrm.noshow.history import History

SERVICE_LINE_SYSTEM = "http://fhircrm.org/CodeSystem/service-line"
SERVICE_LINES = ("primary-care", "cardiology", "dermatology", "pediatrics", "physiotherapy")
GEOLOCATION = "http://hl7.org/fhir/StructureDefinition/geolocation"

AGE_BANDS: tuple[tuple[str, float, float], ...] = (  # 45-54 is the reference band (all zeros)
    ("age_0_5", 0, 6),
    ("age_6_12", 6, 13),
    ("age_13_17", 13, 18),
    ("age_18_24", 18, 25),
    ("age_25_34", 25, 35),
    ("age_35_44", 35, 45),
    ("age_55_64", 55, 65),
    ("age_65_74", 65, 75),
    ("age_75_plus", 75, 200),
)
BOOKING_HOURS: tuple[tuple[str, int, int], ...] = (  # 10:00-12:00 UTC is the reference
    ("booked_before_8", 0, 8),
    ("booked_8_10", 8, 10),
    ("booked_12_14", 12, 14),
    ("booked_14_16", 14, 16),
    ("booked_after_16", 16, 24),
)

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
    "prior_noshow_rate",
    "log_days_since_last",
    "log_prior_bookings",
    "open_bookings",
    "same_day_bookings",
    "same_visit_day",
    *(name for name, _, _ in AGE_BANDS),
    "age_unknown",
    "male",
    "same_day_x_child",
    "weekday_monday",
    "weekday_tuesday",
    "weekday_wednesday",
    "weekday_thursday",
    "weekday_friday",
    "weekend",
    "hour_early",
    "hour_late",
    *(name for name, _, _ in BOOKING_HOURS),
    "first_visit",
    "confirmed",
    "reminders",
    "reminders_x_log_lead",
    "log_distance_km",
    *(f"service_{line}" for line in SERVICE_LINES),
    *dict.fromkeys(CONDITION_FEATURES.values()),
    "welfare_coverage",
    "self_pay",
    "district_rate",
    "practitioner_rate",
    "years_old",
)


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
    at: datetime | None = None,
    facts: Facts | None = None,
    rates: Rates | None = None,
) -> dict[str, float]:
    """The feature values of one appointment (missing facts count as the reference level, 0).

    ``at`` is the prediction instant: by default the booking itself; a later one (never after the start) lets the
    history known then count, as when a risk is refreshed the day before the visit. ``reminders`` is a count
    recorded without send times (old imports); ``facts.communications`` count when sent by the instant."""
    start = parse_fhir_datetime(appointment["start"])
    booked = min(booked_at(appointment, now), start)
    instant = booked if at is None else min(max(at, booked), start)
    # Calendar days (UTC): "booked yesterday evening for this morning" is a 1-day lead, not a same-day booking.
    lead_days = float(max((start.astimezone(UTC).date() - booked.astimezone(UTC).date()).days, 0))
    past = history.past(instant)
    known = history.known(instant, exclude=appointment.get("id", ""), visit=start)
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
    weekday, hour, booked_hour = start.weekday(), start.hour, booked.astimezone(UTC).hour
    facts = facts or Facts()
    rates = rates or NoRates()
    reminders += reminders_sent(facts.communications, instant)
    same_day = lead_days < 1
    values = {
        "log_lead_days": math.log1p(lead_days),
        "same_day": float(same_day),
        "lead_1_2d": float(1 <= lead_days < 3),
        "lead_3_7d": float(3 <= lead_days < 8),
        "lead_8_14d": float(8 <= lead_days < 15),
        "lead_15_30d": float(15 <= lead_days < 31),
        "lead_31d_plus": float(lead_days >= 31),
        "prior_noshows": float(min(past.noshows, 3)),
        "any_prior_noshow": float(past.noshows > 0),
        "prior_cancellations": float(min(past.cancellations, 3)),
        "log_prior_visits": math.log1p(past.visits),
        "prior_noshow_rate": (past.noshows + 0.2) / (past.noshows + past.visits + 1) - 0.2,  # 0 with no history
        "log_days_since_last": (
            math.log1p(max((instant - past.last_day).total_seconds() / 86400, 0.0)) if past.last_day else 0.0
        ),
        "log_prior_bookings": math.log1p(min(known.total, 20)),
        "open_bookings": float(min(known.upcoming, 5)),
        "same_day_bookings": float(min(known.same_session, 5)),
        "same_visit_day": float(min(known.same_visit_day, 3)),
        "age_unknown": float(age is None),
        "male": float((patient or {}).get("gender") == "male"),
        "same_day_x_child": float(same_day and age is not None and age < 13),
        "weekday_monday": float(weekday == 0),
        "weekday_tuesday": float(weekday == 1),
        "weekday_wednesday": float(weekday == 2),
        "weekday_thursday": float(weekday == 3),
        "weekday_friday": float(weekday == 4),
        "weekend": float(weekday >= 5),
        "hour_early": float(0 < hour < 10),
        "hour_late": float(hour >= 16),
        "first_visit": float("FOLLOWUP" not in codes and past.visits == 0),
        "confirmed": float(accepted),
        "reminders": float(min(reminders, 3)),
        "reminders_x_log_lead": float(min(reminders, 3)) * math.log1p(lead_days),
        "log_distance_km": math.log1p(distance) if distance is not None else 0.0,
        **condition_values(facts.conditions, instant),
        "welfare_coverage": welfare_coverage(facts.coverages, instant),
        "self_pay": self_pay(facts.coverages, instant),
        "district_rate": rates.excess("district", district(patient), instant),
        "practitioner_rate": rates.excess("practitioner", practitioner(appointment), instant),
        "years_old": min(max(age, 0.0), 100.0) if age is not None else 0.0,
    }
    for name, low, high in AGE_BANDS:
        values[name] = float(age is not None and low <= age < high)
    for name, low, high in BOOKING_HOURS:
        values[name] = float(low <= booked_hour < high)
    for line in SERVICE_LINES:
        values[f"service_{line}"] = float(line in lines)
    return values


LABELS = {"noshow": 1, "fulfilled": 0, "arrived": 0, "checked-in": 0}


def label(appointment: dict) -> int | None:
    """1 for a no-show, 0 for a kept appointment, None when the outcome is not known (booked, cancelled)."""
    return LABELS.get(appointment.get("status", ""))
