"""quantity: a number with its unit, searched as ``[prefix]number[|system|code]``; the number compares as for
number parameters."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from fhircrm.fhir.search.param_types.base import ParamType, Searched, bad_value, clip, split_prefix
from fhircrm.fhir.search.param_types.number import number_condition, parse_decimal
from fhircrm.fhir.sql.tables import idx_quantity


def quantity_rows(value: Any) -> Iterable[dict]:
    if isinstance(value, dict) and isinstance(value.get("value"), int | float):
        code = value.get("code") or value.get("currency") or value.get("unit")
        yield {"value": float(value["value"]), "system": clip(value.get("system")), "code": clip(code)}
        if value.get("unit") and value.get("unit") != code:
            yield {"value": float(value["value"]), "system": None, "code": clip(value["unit"])}


def quantity_condition(f: Searched, value: str) -> ColumnElement[bool]:
    parts = value.split("|")
    if len(parts) not in (1, 3):
        raise bad_value(f, value, "a quantity is [prefix]number|system|code")
    prefix, text = split_prefix(parts[0])
    condition = number_condition(prefix, parse_decimal(f, value, text), idx_quantity.c.value)
    if len(parts) == 3:
        system, code = parts[1], parts[2]
        if system:
            condition = sa.and_(condition, idx_quantity.c.system == system)
        if code:
            condition = sa.and_(condition, idx_quantity.c.code == code)
    return condition


QUANTITY = ParamType(
    name="quantity",
    table=idx_quantity,
    rows=quantity_rows,
    condition=quantity_condition,
    modifiers=frozenset({"missing"}),
    sort=("value", "value"),
)
