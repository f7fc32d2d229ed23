"""What a search parameter type is (``ParamType``), and the small pieces several types share.

A type's object is everything the server does differently for that type, so that changing one type means reading
and editing its own module: the registry indexes exactly the parameters whose type has an object, the writer and
the extractor fill the type's table with its ``rows``, the compiler asks its ``condition`` and ``modifiers`` and
sorts on its ``sort`` columns, and the CapabilityStatement publishes its ``name``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from fhircrm.errors import BadRequest

#: the longest code, system or display kept in an index column (a btree entry must stay small)
MAX_TOKEN = 255
PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")


class Indexed(Protocol):
    """What a condition reads of a search parameter (``search.registry.SearchParam``)."""

    @property
    def resource_type(self) -> str: ...
    @property
    def expression(self) -> str: ...


class Searched(Protocol):
    """What a condition reads of a parsed filter (``search.query.Filter``, which depends on this package)."""

    @property
    def code(self) -> str: ...
    @property
    def modifier(self) -> str | None: ...
    @property
    def raw_name(self) -> str: ...
    @property
    def param(self) -> Indexed | None: ...
    @property
    def base(self) -> str: ...


#: one FHIR value (a string, Coding, Period, Reference...) -> rows of the type's value columns, by column name
Rows = Callable[[Any], Iterable[dict[str, Any]]]
#: a filter and one of its (ORed) values -> a condition on the type's table
Condition = Callable[[Searched, str], ColumnElement[bool]]


@dataclass(frozen=True, slots=True)
class ParamType:
    """One search parameter type (``SearchParameter.type``) and how fhircrm indexes and searches it."""

    name: str  # the FHIR code: token, string, date...
    table: sa.Table  # its index table (``fhir/sql/tables.py``): res_pk, sp and the value columns
    rows: Rows  # values are skipped, never refused: a search index must never make a valid write fail
    condition: Condition
    modifiers: frozenset[str]
    #: the value columns an ascending and a descending ``_sort`` take the minimum and maximum of
    sort: tuple[str, str]
    #: accepts a resource type as modifier (``subject:Patient=1``), one of the parameter's targets
    type_modifier: bool = False
    #: the type ``Reference.identifier`` of each value is also indexed as, for the ``:identifier`` modifier
    identifier: ParamType | None = None
    #: single-valued filters on one parameter ANDed into one lookup (``date=ge..&date=lt..``: one stored value
    #: within both bounds, which is what a range means)
    merge_ranges: bool = False
    columns: tuple[str, ...] = field(init=False)  # the value columns, in table order

    def __post_init__(self) -> None:
        names = tuple(c.name for c in self.table.columns if c.name not in ("res_pk", "sp"))
        object.__setattr__(self, "columns", names)


def clip(value: Any) -> str | None:
    if value is None:
        return None
    return str(value)[:MAX_TOKEN]


def split_prefix(value: str) -> tuple[str, str]:
    """``ge2024`` -> (ge, 2024); no prefix means ``eq``."""
    if len(value) > 2 and value[:2] in PREFIXES and not value[2].isalpha():
        return value[:2], value[2:]
    return "eq", value


def like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def shown(value: str, limit: int = 100) -> str:
    """A searched value as a diagnostic quotes it: cut short, so an answer never echoes a huge input."""
    return value if len(value) <= limit else value[:limit] + "..."


def refusal(name: str, value: str, why: str) -> BadRequest:
    """A 400 about one search parameter: the diagnostic names the parameter and the value, then says why."""
    return BadRequest(f"{name}={shown(value)}: {why}", expression=name)


def bad_value(f: Searched, value: str, why: str) -> BadRequest:
    """A value the parameter's type cannot read."""
    return refusal(f.raw_name or f.code, value, why)
