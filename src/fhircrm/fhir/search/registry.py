"""The search parameters fhircrm indexes: the official R4 definitions plus our own from ``profiles/``.

A definition whose base is ``Resource`` or ``DomainResource`` applies to every type that inherits it. Only
parameters of a type in ``param_types.PARAM_TYPES`` are indexed: composite and special parameters are not, and so
are not published in the CapabilityStatement either.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache

import orjson

from fhircrm.fhir.paths import DEFINITIONS, PROFILES
from fhircrm.fhir.resource_types import RESOURCE_TYPES
from fhircrm.fhir.search.param_types import PARAM_TYPES, ParamType
from fhircrm.fhir.search.paths import split_union

DOMAIN_RESOURCE_EXCLUDED = frozenset({"Bundle", "Binary", "Parameters"})


def sp_hash(resource_type: str, code: str) -> int:
    """A stable signed 64-bit key for (type, parameter): the ``sp`` column of every index table."""
    digest = hashlib.blake2b(f"{resource_type}|{code}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@dataclass(frozen=True, slots=True)
class SearchParam:
    """One search parameter as it applies to one resource type."""

    resource_type: str
    code: str
    type: str
    expression: str  # only the parts of the definition's expression that apply to ``resource_type``
    url: str
    targets: tuple[str, ...] = ()
    modifiers: tuple[str, ...] = ()
    comparators: tuple[str, ...] = ()
    documentation: str = ""
    sp: int = field(init=False)
    kind: ParamType = field(init=False, repr=False, compare=False)  # the object of ``type``

    def __post_init__(self) -> None:
        object.__setattr__(self, "sp", sp_hash(self.resource_type, self.code))
        object.__setattr__(self, "kind", PARAM_TYPES[self.type])


def _subject_type(part: str) -> str:
    """The resource type a union part starts from: ``(Observation.value as Quantity)`` -> Observation."""
    head = part.lstrip("(").split(".", 1)[0]
    return head.split(" ", 1)[0]


def expression_for(expression: str, resource_type: str) -> str:
    """Keep the union parts of a multi-type expression that navigate from ``resource_type``."""
    parts = [p for p in split_union(expression) if _subject_type(p) in (resource_type, "Resource", "DomainResource")]
    return " | ".join(parts)


def _bases(definition: dict) -> Iterable[str]:
    for base in definition.get("base", []):
        if base == "Resource":
            yield from RESOURCE_TYPES
        elif base == "DomainResource":
            yield from (t for t in RESOURCE_TYPES if t not in DOMAIN_RESOURCE_EXCLUDED)
        elif base in RESOURCE_TYPES:
            yield base


def _load_definitions() -> list[dict]:
    bundle = orjson.loads((DEFINITIONS / "search-parameters.json").read_bytes())
    definitions = [entry["resource"] for entry in bundle["entry"]]
    if PROFILES.is_dir():
        for path in sorted(PROFILES.glob("SearchParameter-*.json")):
            definitions.append(json.loads(path.read_text()))
    return definitions


class Registry:
    """Search parameters by resource type and code."""

    def __init__(self, definitions: Iterable[dict]):
        self._by_type: dict[str, dict[str, SearchParam]] = {t: {} for t in RESOURCE_TYPES}
        for definition in definitions:
            self.add(definition)

    def add(self, definition: dict) -> None:
        if definition.get("type") not in PARAM_TYPES:
            return
        for resource_type in _bases(definition):
            expression = expression_for(definition.get("expression", ""), resource_type)
            if not expression:
                continue
            self._by_type[resource_type][definition["code"]] = SearchParam(
                resource_type=resource_type,
                code=definition["code"],
                type=definition["type"],
                expression=expression,
                url=definition.get("url", ""),
                targets=tuple(definition.get("target", ())),
                modifiers=tuple(definition.get("modifier", ())),
                comparators=tuple(definition.get("comparator", ())),
                documentation=definition.get("description", ""),
            )

    def params(self, resource_type: str) -> dict[str, SearchParam]:
        return self._by_type.get(resource_type, {})

    def get(self, resource_type: str, code: str) -> SearchParam | None:
        return self._by_type.get(resource_type, {}).get(code)


@cache
def registry() -> Registry:
    return Registry(_load_definitions())
