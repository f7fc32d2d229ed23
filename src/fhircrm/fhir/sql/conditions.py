"""One function per search parameter type: a search value -> a condition on that type's index table.

The search compiler wraps these in ``resource.id IN (SELECT res_pk FROM idx_x WHERE sp = ... AND <cond>)``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from fhircrm.errors import BadRequest
from fhircrm.fhir.search.dates import MIN, InvalidDate, date_range
from fhircrm.fhir.search.extract import normalize
from fhircrm.fhir.search.query import PREFIXES, Filter
from fhircrm.fhir.search.spans import max_span
from fhircrm.fhir.sql.tables import (
    idx_date,
    idx_number,
    idx_quantity,
    idx_reference,
    idx_string,
    idx_token,
    idx_uri,
)

_REFERENCE_VALUE = re.compile(
    r"^(?:(?P<base>https?://.+?)/)?(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$"
)


def split_prefix(value: str) -> tuple[str, str]:
    if len(value) > 2 and value[:2] in PREFIXES and not value[2].isalpha():
        return value[:2], value[2:]
    return "eq", value


def like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def token(f: Filter, value: str) -> ColumnElement[bool]:
    t = idx_token
    if f.modifier == "text":
        return t.c.display.ilike(f"%{like_escape(value)}%", escape="\\")
    if "|" not in value:
        return t.c.code == value
    system, code = value.split("|", 1)
    if not system:
        return sa.and_(t.c.code == code, t.c.system.is_(None))
    if not code:
        return t.c.system == system
    return sa.and_(t.c.code == code, t.c.system == system)


def string(f: Filter, value: str) -> ColumnElement[bool]:
    t = idx_string
    if f.modifier == "exact":
        return t.c.exact == value
    needle = like_escape(normalize(value))
    if f.modifier == "contains":
        return t.c.norm.like(f"%{needle}%", escape="\\")
    return t.c.norm.like(f"{needle}%", escape="\\")


def _approx_margin(low: datetime, high: datetime) -> timedelta:
    now = datetime.now(UTC).replace(tzinfo=None)
    return max(abs(now - low), abs(now - high)) * 0.1 + timedelta(days=1)


def date_condition(
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


def parse_date(f: Filter, value: str) -> tuple[str, datetime, datetime]:
    prefix, text = split_prefix(value)
    try:
        vlow, vhigh = date_range(text)
    except InvalidDate:
        raise BadRequest(
            f"{f.raw_name or f.code}: not a FHIR date: {text!r}", expression=f.raw_name or f.code
        ) from None
    return prefix, vlow, vhigh


def date(f: Filter, value: str) -> ColumnElement[bool]:
    prefix, vlow, vhigh = parse_date(f, value)
    condition = date_condition(prefix, vlow, vhigh, idx_date.c.low, idx_date.c.high)
    span = max_span(f.param) if f.param is not None else None
    # ``high`` must reach a point; when values are at most ``span`` wide, ``low`` is then known to be past that
    # point minus ``span``: a redundant bound that turns an open-ended scan into a narrow index range.
    reach = {"ge": vlow, "gt": vhigh, "ap": vlow - _approx_margin(vlow, vhigh)}.get(prefix)
    if span is not None and reach is not None and reach - MIN > span:
        condition = sa.and_(condition, idx_date.c.low >= reach - span)
    return condition


def _decimal(f: Filter, text: str) -> Decimal:
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise BadRequest(f"{f.raw_name or f.code}: not a number: {text!r}", expression=f.raw_name or f.code) from None
    if not number.is_finite():
        raise BadRequest(f"{f.raw_name or f.code}: not a number: {text!r}", expression=f.raw_name or f.code)
    return number


def number_condition(prefix: str, number: Decimal, column: sa.ColumnElement) -> ColumnElement[bool]:
    """Numbers carry their precision: ``eq100`` means [99.5, 100.5)."""
    exponent = number.as_tuple().exponent
    half = Decimal(5).scaleb(exponent - 1) if isinstance(exponent, int) else Decimal(0)
    value, low, high = float(number), float(number - half), float(number + half)
    match prefix:
        case "eq":
            return sa.and_(column >= low, column < high)
        case "ne":
            return sa.or_(column < low, column >= high)
        case "gt" | "sa":
            return column > value
        case "lt" | "eb":
            return column < value
        case "ge":
            return column >= value
        case "le":
            return column <= value
        case "ap":
            margin = abs(value) * 0.1
            return sa.and_(column >= value - margin, column <= value + margin)
    raise BadRequest(f"unsupported prefix {prefix}")


def number(f: Filter, value: str) -> ColumnElement[bool]:
    prefix, text = split_prefix(value)
    return number_condition(prefix, _decimal(f, text), idx_number.c.value)


def quantity(f: Filter, value: str) -> ColumnElement[bool]:
    parts = value.split("|")
    if len(parts) not in (1, 3):
        raise BadRequest(f"{f.code}: quantity takes [prefix]number|system|code", expression=f.raw_name or f.code)
    prefix, text = split_prefix(parts[0])
    condition = number_condition(prefix, _decimal(f, text), idx_quantity.c.value)
    if len(parts) == 3:
        system, code = parts[1], parts[2]
        if system:
            condition = sa.and_(condition, idx_quantity.c.system == system)
        if code:
            condition = sa.and_(condition, idx_quantity.c.code == code)
    return condition


def reference(f: Filter, value: str) -> ColumnElement[bool]:
    """``Type/id``, a bare id, or an absolute URL; absolute URLs under this server's base are local."""
    r = idx_reference
    m = _REFERENCE_VALUE.match(value)
    if m and m["base"] and m["base"] != f.base:  # a resource on another server: only its URL matches
        return r.c.url.in_({value, f"{m['base']}/{m['type']}/{m['id']}"})
    if m:
        if f.modifier and f.modifier[0].isupper() and f.modifier != m["type"]:
            return sa.false()
        condition = sa.and_(r.c.target_id == m["id"], r.c.target_type == m["type"])
    elif "/" in value or ":" in value:  # canonical or other absolute URL
        return r.c.url == value.split("|", 1)[0]
    else:
        condition = r.c.target_id == value
        if f.modifier and f.modifier[0].isupper():
            condition = sa.and_(condition, r.c.target_type == f.modifier)
    local = r.c.url.is_(None)
    if f.base:
        local = sa.or_(local, r.c.url.startswith(f"{f.base}/", autoescape=True))
    return sa.and_(condition, local)


def uri(f: Filter, value: str) -> ColumnElement[bool]:
    u = idx_uri
    if f.modifier == "below":  # the URL itself and everything under it, segment by segment
        stem = value.rstrip("/")
        return sa.or_(u.c.uri == stem, u.c.uri.like(f"{like_escape(stem)}/%", escape="\\"))
    if f.modifier == "above":
        # every ancestor of the value, split at '/': http://a/b/c -> http://a/b/c, http://a/b, http://a
        head, _, path = value.partition("://")
        pieces = path.split("/")
        ancestors = [f"{head}://{'/'.join(pieces[:n])}" for n in range(1, len(pieces) + 1)]
        return u.c.uri.in_(ancestors)
    return u.c.uri == value


CONDITIONS = {
    "token": token,
    "string": string,
    "date": date,
    "reference": reference,
    "number": number,
    "quantity": quantity,
    "uri": uri,
}
TABLES = {
    "token": idx_token,
    "string": idx_string,
    "date": idx_date,
    "reference": idx_reference,
    "number": idx_number,
    "quantity": idx_quantity,
    "uri": idx_uri,
}
MODIFIERS = {
    "token": {"not", "text", "missing"},
    "string": {"exact", "contains", "missing"},
    "date": {"missing"},
    "reference": {"missing", "identifier"},  # plus :[type]
    "number": {"missing"},
    "quantity": {"missing"},
    "uri": {"below", "above", "missing"},
}
