"""Clinic-local time helpers: every timestamp is written in America/New_York with its offset."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

CLINIC_TZ = ZoneInfo("America/New_York")
OPENING_MINUTE = 8 * 60
LUNCH_START_MINUTE = 12 * 60
LUNCH_MINUTES = 60
CLOSING_MINUTE = 17 * 60
BOOKABLE_MINUTES = CLOSING_MINUTE - OPENING_MINUTE - LUNCH_MINUTES  # 8 hours


def local(day: dt.date, minute_of_day: int) -> dt.datetime:
    """Aware local datetime for a day and minutes since midnight (DST handled by zoneinfo)."""
    hour, minute = divmod(minute_of_day, 60)
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=CLINIC_TZ)


def iso(value: dt.datetime) -> str:
    """FHIR dateTime/instant text with seconds and the local UTC offset."""
    return value.astimezone(CLINIC_TZ).isoformat(timespec="seconds")


def is_weekday(day: dt.date) -> bool:
    return day.weekday() < 5


def weekdays_between(first: dt.date, last: dt.date) -> int:
    """Number of Monday-Friday days in [first, last] (0 if the range is empty)."""
    if last < first:
        return 0
    total = (last - first).days + 1
    full_weeks, rest = divmod(total, 7)
    count = full_weeks * 5
    start_wd = first.weekday()
    count += sum(1 for k in range(rest) if (start_wd + k) % 7 < 5)
    return count


def slot_start_minute(index: int, slot_minutes: int) -> int:
    """Minute of day at which slot `index` starts; slots skip the 12:00-13:00 lunch break."""
    offset = index * slot_minutes
    if OPENING_MINUTE + offset >= LUNCH_START_MINUTE:
        offset += LUNCH_MINUTES
    return OPENING_MINUTE + offset


def slots_per_day(slot_minutes: int) -> int:
    return BOOKABLE_MINUTES // slot_minutes
