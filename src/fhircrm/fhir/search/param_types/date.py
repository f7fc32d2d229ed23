"""date: dates, dateTimes, instants, Periods and Timings, stored as the UTC range ``[low, high]`` they cover and
compared with the searched range by prefix (FHIR R4 search, 3.1.1.5.7)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from fhircrm.errors import BadRequest
from fhircrm.fhir.search.dates import MIN, InvalidDate, date_range, period_range
from fhircrm.fhir.search.param_types.base import ParamType, Searched, bad_value, split_prefix
from fhircrm.fhir.search.spans import max_span
from fhircrm.fhir.sql.tables import idx_date


def date_rows(value: Any) -> Iterable[dict]:
    try:
        if isinstance(value, str):
            low, high = date_range(value)
            yield {"low": low, "high": high}
        elif isinstance(value, dict):
            if "start" in value or "end" in value:
                bounds = period_range(value)
                if bounds:
                    yield {"low": bounds[0], "high": bounds[1]}
            elif "event" in value or "repeat" in value:  # Timing
                for event in value.get("event", []):
                    yield from date_rows(event)
                bounds = value.get("repeat", {}).get("boundsPeriod")
                if bounds:
                    yield from date_rows(bounds)
    except InvalidDate:
        return


def _approx_margin(low: datetime, high: datetime) -> timedelta:
    now = datetime.now(UTC).replace(tzinfo=None)
    return max(abs(now - low), abs(now - high)) * 0.1 + timedelta(days=1)


def range_condition(
    prefix: str, vlow: datetime, vhigh: datetime, low: sa.ColumnElement, high: sa.ColumnElement
) -> ColumnElement[bool]:
    """Compare a stored range [low, high] with a search range [vlow, vhigh] (FHIR R4 search, 3.1.1.5.7)."""
    match prefix:
        case "eq":
            return sa.and_(low >= vlow, high <= vhigh)
        case "ne":
            return sa.or_(low < vlow, high > vhigh)
        case "gt":
            return high > vhigh
        case "lt":
            return low < vlow
        case "ge":
            return high >= vlow
        case "le":
            return low <= vhigh
        case "sa":
            return low > vhigh
        case "eb":
            return high < vlow
        case "ap":
            margin = _approx_margin(vlow, vhigh)
            return sa.and_(high >= vlow - margin, low <= vhigh + margin)
    raise BadRequest(f"unsupported prefix {prefix}")


def parse_date(f: Searched, value: str) -> tuple[str, datetime, datetime]:
    """``[prefix]date`` -> (prefix, low, high); a 400 naming the parameter and the value when it is no date."""
    prefix, text = split_prefix(value)
    try:
        vlow, vhigh = date_range(text)
    except InvalidDate:
        raise bad_value(f, value, "not a FHIR date, dateTime or instant") from None
    return prefix, vlow, vhigh


def date_condition(f: Searched, value: str) -> ColumnElement[bool]:
    prefix, vlow, vhigh = parse_date(f, value)
    condition = range_condition(prefix, vlow, vhigh, idx_date.c.low, idx_date.c.high)
    span = max_span(f.param.resource_type, f.param.expression) if f.param is not None else None
    # ``high`` must reach a point; when values are at most ``span`` wide, ``low`` is then known to be past that
    # point minus ``span``: a redundant bound that turns an open-ended scan into a narrow index range.
    reach = {"ge": vlow, "gt": vhigh, "ap": vlow - _approx_margin(vlow, vhigh)}.get(prefix)
    if span is not None and reach is not None and reach - MIN > span:
        condition = sa.and_(condition, idx_date.c.low >= reach - span)
    return condition


DATE = ParamType(
    name="date",
    table=idx_date,
    rows=date_rows,
    condition=date_condition,
    modifiers=frozenset({"missing"}),
    sort=("low", "high"),
    merge_ranges=True,
)
