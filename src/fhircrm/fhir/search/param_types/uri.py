"""uri: URIs and canonical URLs, matched exactly; ``:below`` and ``:above`` walk the path segment by segment."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from fhircrm.fhir.search.param_types.base import ParamType, Searched, like_escape
from fhircrm.fhir.sql.tables import idx_uri


def uri_rows(value: Any) -> Iterable[dict]:
    if isinstance(value, str):
        yield {"uri": value[:1024]}


def uri_condition(f: Searched, value: str) -> ColumnElement[bool]:
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


URI = ParamType(
    name="uri",
    table=idx_uri,
    rows=uri_rows,
    condition=uri_condition,
    modifiers=frozenset({"below", "above", "missing"}),
    sort=("uri", "uri"),
)
