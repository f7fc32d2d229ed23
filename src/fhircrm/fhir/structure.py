"""The official R4 (4.0.1) definitions as the validator walks them: element tables compiled from the
StructureDefinitions by ``scripts/compile_r4_definitions.py`` into ``definitions/r4-elements.json``.

Loaded once, on first use, into plain objects with slots, so that validating a resource is dictionary look-ups and
no model instantiation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import orjson

from fhircrm.fhir.paths import DEFINITIONS

PRIMITIVE, COMPLEX, RESOURCE = 0, 1, 2


@dataclass(frozen=True, slots=True)
class Primitive:
    """A primitive type: the JSON type its values take and the pattern of their text (R4 JSON format)."""

    name: str
    json: str  # boolean, integer, decimal or string
    pattern: re.Pattern[str] | None


@dataclass(frozen=True, slots=True)
class Element:
    """One JSON key of an element: ``valueString`` is the ``string`` choice of ``value[x]``."""

    name: str  # the element's name (``value`` for ``value[x]``)
    type: str
    min: int
    max: int  # -1: unbounded
    kind: int  # PRIMITIVE, COMPLEX or RESOURCE
    node: str | None  # where its children are described (complex: the datatype, or the backbone's path)
    primitive: Primitive | None
    valueset: str | None  # the required binding's value set, when its codes are known
    codes: dict[str, frozenset[str]] | None  # system -> codes of that value set
    all_codes: frozenset[str] | None
    targets: frozenset[str] | None  # a Reference: the resource types it may point at (None: any)

    @property
    def many(self) -> bool:
        return self.max != 1


@dataclass(frozen=True, slots=True)
class Node:
    """An object's elements: by JSON key, the required ones (any of their keys present satisfies them) and the
    choices (at most one of their keys may be present)."""

    path: str
    children: dict[str, Element]
    required: tuple[tuple[str, tuple[str, ...]], ...]
    choices: tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True, slots=True)
class Definitions:
    resources: frozenset[str]
    nodes: dict[str, Node]
    primitives: dict[str, Primitive]
    summary: dict[str, frozenset[str]]
    #: node path -> (key, FHIRPath expression, human text) of the invariants of severity error
    constraints: dict[str, tuple[tuple[str, str, str], ...]]


def _pattern(name: str, regex: str | None) -> re.Pattern[str] | None:
    if regex is None or name in ("string", "markdown", "boolean", "integer", "decimal", "positiveInt", "unsignedInt"):
        return None  # checked in code: faster, and the JSON type already decides
    return re.compile(regex)


@cache
def definitions() -> Definitions:
    raw = orjson.loads((DEFINITIONS / "r4-elements.json").read_bytes())
    primitives = {name: Primitive(name, p["json"], _pattern(name, p["regex"])) for name, p in raw["primitives"].items()}
    valuesets = {url: {s: frozenset(c) for s, c in systems.items()} for url, systems in raw["valuesets"].items()}
    union = {url: frozenset().union(*systems.values()) for url, systems in valuesets.items()}
    nodes: dict[str, Node] = {}
    for path, table in raw["nodes"].items():
        children: dict[str, Element] = {}
        by_name: dict[str, list[str]] = {}
        minimum: dict[str, int] = {}
        for key, (name, type_code, low, high, valueset, child, targets) in table.items():
            primitive = primitives.get(type_code)
            kind = PRIMITIVE if primitive else RESOURCE if type_code == "Resource" else COMPLEX
            children[key] = Element(
                name,
                type_code,
                low,
                high,
                kind,
                child or (type_code if kind == COMPLEX else None),
                primitive,
                valueset,
                valuesets.get(valueset) if valueset else None,
                union.get(valueset) if valueset else None,
                frozenset(targets) if targets else None,
            )
            keys = by_name.setdefault(name, [])
            keys.append(key)
            if primitive:
                keys.append("_" + key)
            minimum[name] = low
        required = tuple((n, tuple(k)) for n, k in by_name.items() if minimum[n] > 0)
        choices = tuple((n, tuple(k for k in keys if not k.startswith("_"))) for n, keys in by_name.items())
        choices = tuple((n, k) for n, k in choices if len(k) > 1)
        nodes[path] = Node(path, children, required, choices)
    constraints = {
        path: tuple((key, expression, human) for key, expression, human in items)
        for path, items in raw["constraints"].items()
    }
    return Definitions(
        frozenset(raw["resources"]),
        nodes,
        primitives,
        {t: frozenset(names) for t, names in raw["summary"].items()},
        constraints,
    )
