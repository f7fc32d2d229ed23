"""FHIR date, dateTime and instant values as UTC ranges ``[low, high]`` (inclusive, microsecond precision).

A partial date means its whole span: ``2024-03`` is all of March. Dates without a zone are read as UTC.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta

MIN = datetime(1, 1, 1)
MAX = datetime(9999, 12, 31, 23, 59, 59, 999999)
_TICK = timedelta(microseconds=1)

_DATE = re.compile(
    r"^(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?P<f>\.\d+)?)?(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)


class InvalidDate(ValueError):
    pass


def _utc_naive(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def date_range(text: str) -> tuple[datetime, datetime]:
    """The range a FHIR date/dateTime/instant covers, as naive UTC datetimes."""
    m = _DATE.match(text.strip())
    if not m:
        raise InvalidDate(text)
    try:
        return _range(m)
    except (ValueError, OverflowError):  # month 13, 30 February, hour 25, a zone past +24:00...
        raise InvalidDate(text) from None


def _range(m: re.Match[str]) -> tuple[datetime, datetime]:
    year = int(m["y"])
    if m["m"] is None:
        return datetime(year, 1, 1), datetime(year, 12, 31, 23, 59, 59, 999999)
    month = int(m["m"])
    if m["d"] is None:
        last = calendar.monthrange(year, month)[1]
        return datetime(year, month, 1), datetime(year, month, last, 23, 59, 59, 999999)
    day = int(m["d"])
    if m["H"] is None:
        start = datetime(year, month, day)
        return start, start + timedelta(days=1) - _TICK
    tz = m["tz"]
    zone = None
    if tz:
        zone = UTC if tz == "Z" else datetime.strptime(tz.replace(":", ""), "%z").tzinfo
    if m["S"] is None:
        start = datetime(year, month, day, int(m["H"]), int(m["M"]), tzinfo=zone)
        span = timedelta(minutes=1)
    elif m["f"] is None:
        start = datetime(year, month, day, int(m["H"]), int(m["M"]), int(m["S"]), tzinfo=zone)
        span = timedelta(seconds=1)
    else:
        digits = m["f"][1:]
        micro = int((digits + "000000")[:6])
        start = datetime(year, month, day, int(m["H"]), int(m["M"]), int(m["S"]), micro, tzinfo=zone)
        span = timedelta(microseconds=10 ** (6 - min(len(digits), 6)))
    low = _utc_naive(start)
    return low, low + span - _TICK


def period_range(period: dict) -> tuple[datetime, datetime] | None:
    start, end = period.get("start"), period.get("end")
    if not start and not end:
        return None
    low = date_range(start)[0] if start else MIN
    high = date_range(end)[1] if end else MAX
    return low, high


def format_instant(value: datetime) -> str:
    """A naive UTC datetime as a FHIR instant with an explicit zone."""
    return value.replace(tzinfo=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
