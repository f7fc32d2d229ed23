"""Planned contact times avoid the night in the patient's time zone.

The zone is the Patient's ``http://hl7.org/fhir/StructureDefinition/tz-code`` extension when present (an IANA
name such as ``America/Chicago``), otherwise the clinic's default (``timers_default_timezone``, America/New_York).
A time that falls outside [contact_day_start_hour, contact_day_end_hour) moves forward to the next morning, or
back to the previous evening when the morning would come after the appointment. The
channel layer enforces quiet hours again at sending time; this only keeps the plan sensible.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

TZ_EXTENSION = "http://hl7.org/fhir/StructureDefinition/tz-code"


def patient_zone(patient: dict | None, default: str) -> ZoneInfo:
    for ext in (patient or {}).get("extension", []):
        if ext.get("url") == TZ_EXTENSION and isinstance(ext.get("valueCode"), str):
            try:
                return ZoneInfo(ext["valueCode"])
            except (ZoneInfoNotFoundError, ValueError):
                break
    return ZoneInfo(default)


def within_contact_hours(
    when: datetime, zone: ZoneInfo, *, start_hour: int, end_hour: int, not_after: datetime | None = None
) -> datetime:
    """``when`` moved into the local contact day [start_hour, end_hour): forward to the next morning, or back to
    the previous evening when the morning would be later than ``not_after`` (the appointment itself)."""
    local = when.astimezone(zone)
    if start_hour <= local.hour < end_hour:
        return when
    morning_day = local.date() + timedelta(days=1) if local.hour >= end_hour else local.date()
    morning = datetime.combine(morning_day, time(start_hour, 0), zone)
    if not_after is None or morning <= not_after:
        return morning
    return datetime.combine(morning_day - timedelta(days=1), time(end_hour - 1, 0), zone)
