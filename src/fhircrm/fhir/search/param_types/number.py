"""number: decimals and integers, compared by prefix; a searched number carries its precision (``eq100`` means
[99.5, 100.5))."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from fhircrm.errors import BadRequest
from fhircrm.fhir.search.param_types.base import ParamType, Searched, bad_value, split_prefix
from fhircrm.fhir.sql.tables import idx_number


def number_rows(value: Any) -> Iterable[dict]:
    if isinstance(value, int | float) and not isinstance(value, bool):
        yield {"value": float(value)}


def parse_decimal(f: Searched, value: str, text: str) -> Decimal:
    """The number ``text`` (of the searched ``value``); a 400 naming the parameter and the value otherwise."""
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise bad_value(f, value, "not a number") from None
    if not number.is_finite():
        raise bad_value(f, value, "not a number")
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


def number_value_condition(f: Searched, value: str) -> ColumnElement[bool]:
    prefix, text = split_prefix(value)
    return number_condition(prefix, parse_decimal(f, value, text), idx_number.c.value)


NUMBER = ParamType(
    name="number",
    table=idx_number,
    rows=number_rows,
    condition=number_value_condition,
    modifiers=frozenset({"missing"}),
    sort=("value", "value"),
)
