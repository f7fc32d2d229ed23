"""token: codes, Codings, CodeableConcepts, Identifiers, ContactPoints and booleans, searched as
``[system|]code``; ``:text`` searches the display text, ``:not`` negates."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from fhircrm.fhir.search.param_types.base import ParamType, Searched, clip, like_escape
from fhircrm.fhir.sql.tables import idx_token


def token_rows(value: Any) -> Iterable[dict]:
    if isinstance(value, bool):
        yield {"system": None, "code": "true" if value else "false", "display": None}
    elif isinstance(value, str | int | float):
        yield {"system": None, "code": clip(value), "display": None}
    elif isinstance(value, dict):
        if "coding" in value or ("text" in value and "value" not in value):
            text = clip(value.get("text"))
            codings = value.get("coding") or []
            for coding in codings:
                yield {
                    "system": clip(coding.get("system")),
                    "code": clip(coding.get("code")),
                    "display": text or clip(coding.get("display")),
                }
            if text and not codings:
                yield {"system": None, "code": None, "display": text}
        elif "code" in value:  # Coding, or a Quantity used as a token
            yield {
                "system": clip(value.get("system")),
                "code": clip(value.get("code")),
                "display": clip(value.get("display")),
            }
        elif "value" in value:  # Identifier, ContactPoint
            type_text = value.get("type", {}).get("text") if isinstance(value.get("type"), dict) else None
            yield {"system": clip(value.get("system")), "code": clip(value["value"]), "display": clip(type_text)}


def token_condition(f: Searched, value: str) -> ColumnElement[bool]:
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


TOKEN = ParamType(
    name="token",
    table=idx_token,
    rows=token_rows,
    condition=token_condition,
    modifiers=frozenset({"not", "text", "missing"}),
    sort=("code", "code"),
)
