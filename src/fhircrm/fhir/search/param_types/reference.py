"""reference: ``Type/id`` (relative, or absolute under this server's base), a bare id, or an absolute or canonical
URL; ``:[type]`` narrows the target type, ``:identifier`` searches ``Reference.identifier`` (indexed as tokens)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from fhircrm.fhir.search.param_types.base import ParamType, Searched
from fhircrm.fhir.search.param_types.token import TOKEN
from fhircrm.fhir.sql.tables import idx_reference

#: a literal reference to a resource, relative or absolute, with an optional version
LITERAL = re.compile(
    r"^(?:(?P<base>https?://.+?)/)?(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$"
)


def reference_rows(value: Any) -> Iterable[dict]:
    reference = value.get("reference") if isinstance(value, dict) else value
    if not isinstance(reference, str) or reference.startswith("#"):
        return
    m = LITERAL.match(reference)
    if m:
        yield {
            "target_type": m["type"],
            "target_id": m["id"],
            "url": reference[:1024] if m["base"] else None,
        }
    else:  # canonical URL, urn, or an absolute URL that is not a FHIR REST address
        yield {"target_type": None, "target_id": None, "url": reference.split("|", 1)[0][:1024]}


def local_reference(base: str) -> ColumnElement[bool]:
    """Index rows of references into this store: relative ones, or absolute ones under this server's base."""
    relative = idx_reference.c.url.is_(None)
    if not base:
        return relative
    return sa.or_(relative, idx_reference.c.url.startswith(f"{base}/", autoescape=True))


def reference_condition(f: Searched, value: str) -> ColumnElement[bool]:
    """``Type/id``, a bare id, or an absolute URL; absolute URLs under this server's base are local."""
    r = idx_reference
    m = LITERAL.match(value)
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
    return sa.and_(condition, local_reference(f.base))


REFERENCE = ParamType(
    name="reference",
    table=idx_reference,
    rows=reference_rows,
    condition=reference_condition,
    modifiers=frozenset({"missing", "identifier"}),
    sort=("target_id", "target_id"),
    type_modifier=True,
    identifier=TOKEN,
)
