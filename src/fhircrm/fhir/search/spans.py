"""How wide a stored value of a date parameter can be, so that range searches get a bound on both sides.

A search like ``date=ge2025-01-01`` needs ``high >= 2025-01-01``, which on its own is an index scan over
everything after that day. When the element is an ``instant`` its range is at most a second wide, so
``low >= 2024-12-31`` is also true and narrows the lookup on the ``(sp, low, high)`` index to the
rows that can match. A ``date`` or ``dateTime`` covers at most a year (a partial date such as ``2025``);
Periods and Timings are unbounded.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache

from fhircrm.fhir.models import model_class
from fhircrm.fhir.search.paths import split_union

# An instant is at most a second wide once validated; a day allows for one written around the validator.
_WIDEST = {"Instant()": timedelta(days=1), "Date()": timedelta(days=366), "DateTime()": timedelta(days=366)}


def _field_span(resource_type: str, name: str) -> timedelta | None:
    try:
        fields = model_class(resource_type).model_fields
    except (KeyError, LookupError, AttributeError, ValueError):
        return None
    for key, field in fields.items():
        if name in (key, field.alias):
            text = repr(field.annotation)
            return next((span for marker, span in _WIDEST.items() if marker in text), None)
    return None


@cache
def _max_span(resource_type: str, expression: str) -> timedelta | None:
    widest = timedelta(0)
    for part in split_union(expression):
        steps = part.split(".")
        if len(steps) != 2 or steps[0] != resource_type or not steps[1].isidentifier():
            return None
        span = _field_span(resource_type, steps[1])
        if span is None:
            return None
        widest = max(widest, span)
    return widest or None


def max_span(resource_type: str, expression: str) -> timedelta | None:
    """The widest ``high - low`` any stored value of the date parameter reading ``expression`` on
    ``resource_type`` can have, or None when it is unbounded (or the parameter is every resource's)."""
    if resource_type == "Resource":
        return None
    return _max_span(resource_type, expression)
