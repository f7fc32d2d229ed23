"""string: text searched case- and accent-insensitively from its start; ``:contains`` anywhere, ``:exact`` as
written."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Any

from sqlalchemy.sql.elements import ColumnElement

from fhircrm.fhir.search.param_types.base import MAX_TOKEN, ParamType, Searched, like_escape
from fhircrm.fhir.sql.tables import idx_string

#: keys of a complex value (HumanName, Address...) whose text is not what a string search looks for
_SKIP_KEYS = frozenset({"use", "system", "extension", "id", "period", "type"})


def normalize(text: str) -> str:
    """Case- and accent-insensitive form used by the default string search."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.casefold()[:MAX_TOKEN]


def _leaves(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in _SKIP_KEYS:
                yield from _leaves(item)


def string_rows(value: Any) -> Iterable[dict]:
    seen: set[str] = set()
    for text in _leaves(value):
        if text and text not in seen:
            seen.add(text)
            yield {"norm": normalize(text), "exact": text[:1024]}


def string_condition(f: Searched, value: str) -> ColumnElement[bool]:
    t = idx_string
    if f.modifier == "exact":
        return t.c.exact == value
    needle = like_escape(normalize(value))
    if f.modifier == "contains":
        return t.c.norm.like(f"%{needle}%", escape="\\")
    return t.c.norm.like(f"{needle}%", escape="\\")


STRING = ParamType(
    name="string",
    table=idx_string,
    rows=string_rows,
    condition=string_condition,
    modifiers=frozenset({"exact", "contains", "missing"}),
    sort=("norm", "norm"),
)
