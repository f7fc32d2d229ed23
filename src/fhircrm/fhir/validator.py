"""Validate R4 JSON against the official R4 definitions (``fhircrm.fhir.structure``): unknown elements, min and
max cardinality, JSON types and formats of primitives, choices, codes of required bindings, and the types a
Reference may point at; then the invariants (``fhircrm.fhir.invariants``).

Target types are checked on relative literal references only (``Patient/1``, ``Patient/1/_history/2``): an
absolute URL, a ``#contained`` or ``urn:uuid:`` reference (a transaction rewrites those to ``Type/id`` before the
store validates) and an identifier-only reference name no type to check here.

One walk over the JSON, no model objects: several times cheaper than the fhir.resources models it replaced, and
it checks what they did not (codes, minimum cardinalities, the 18 R4 types R4B dropped). Each problem is an
issue whose ``expression`` names the element (``Appointment.participant[0].actor``). Values are quoted only
where they are codes of a value set (never free text, which may be PHI).
"""

from __future__ import annotations

import datetime

from fhircrm.errors import Issue
from fhircrm.fhir.references import literal_type
from fhircrm.fhir.structure import COMPLEX, PRIMITIVE, RESOURCE, Element, Node, Primitive, definitions

_INT32 = (-(2**31), 2**31 - 1)
_MAX_QUOTED = 40


def _quote(value: str) -> str:
    return repr(value if len(value) <= _MAX_QUOTED else value[:_MAX_QUOTED] + "...")


class Walk:
    """One validation: the issues found so far."""

    __slots__ = ("issues", "nodes", "resources")

    def __init__(self) -> None:
        found = definitions()
        self.nodes, self.resources = found.nodes, found.resources
        self.issues: list[Issue] = []

    def problem(self, path: str, text: str, code: str = "structure") -> None:
        self.issues.append(Issue(f"{path}: {text}", code=code, expression=(path,)))

    # --- resources and objects -----------------------------------------------------------------------------------

    def resource(self, value: object, path: str, keys: frozenset[str] | None = None) -> None:
        """A resource at ``path`` (its type for a top-level one); ``keys``: check only these top-level elements
        (and the required ones), for a partial update."""
        if not isinstance(value, dict):
            self.problem(path, "a resource must be a JSON object")
            return
        resource_type = value.get("resourceType")
        if not isinstance(resource_type, str) or resource_type not in self.resources:
            self.problem(path, "resourceType is missing or not an R4 resource type", "value")
            return
        here = resource_type if path == resource_type or not path else path
        self.object(value, self.nodes[resource_type], here, root=True, keys=keys)

    def object(
        self, value: object, node: Node, path: str, *, root: bool = False, keys: frozenset[str] | None = None
    ) -> None:
        if not isinstance(value, dict):
            self.problem(path, "must be a JSON object")
            return
        if not value or (root and len(value) == 1):
            self.problem(path, "an empty object is not allowed (an element has a value or children)")
        children = node.children
        for key, item in value.items():
            if keys is not None and key not in keys:
                continue
            element = children.get(key)
            if element is None:
                if key.startswith("_") and (base := children.get(key[1:])) is not None and base.kind == PRIMITIVE:
                    self.extensions(item, base, value.get(key[1:]), f"{path}.{key}")
                elif not (root and key == "resourceType"):
                    self.problem(f"{path}.{key}", "unknown element")
                continue
            self.element(item, element, f"{path}.{key}", ("_" + key) in value)
        for name, names in node.required:
            if not any(k in value for k in names):
                self.problem(f"{path}.{name}", "is required (minimum cardinality 1) but missing", "required")
        for name, names in node.choices:
            present = [k for k in names if k in value]
            if len(present) > 1:
                self.problem(f"{path}.{name}[x]", f"only one of {', '.join(present)} may be present")

    def element(self, value: object, element: Element, path: str, extended: bool) -> None:
        if element.many:
            if not isinstance(value, list):
                self.problem(path, "must be a JSON array (maximum cardinality *)")
                return
            if not value:
                self.problem(path, "an empty array is not allowed", "required" if element.min else "structure")
                return
            if element.max > 1 and len(value) > element.max:
                self.problem(path, f"at most {element.max} values are allowed")
            for i, item in enumerate(value):
                if item is None and extended and element.kind == PRIMITIVE:
                    continue  # a null kept in line with the _element array's extensions
                self.value(item, element, f"{path}[{i}]")
            return
        if isinstance(value, list):
            self.problem(path, "must be a single value, not an array (maximum cardinality 1)")
            return
        self.value(value, element, path)

    def value(self, value: object, element: Element, path: str) -> None:
        if value is None:
            self.problem(path, "null is not allowed")
        elif element.kind == PRIMITIVE:
            self.primitive(value, element.primitive, path)  # type: ignore[arg-type]
            if element.all_codes is not None and isinstance(value, str) and value not in element.all_codes:
                self.problem(path, f"{_quote(value)} is not a code of {element.valueset}", "code-invalid")
        elif element.kind == COMPLEX:
            self.object(value, self.nodes[element.node], path)  # type: ignore[index]
            if element.codes is not None and isinstance(value, dict):
                self.codings(value, element, path)
            elif element.targets is not None and isinstance(value, dict):
                self.target(value, element.targets, path)
        elif element.kind == RESOURCE:
            self.resource(value, path)

    def extensions(self, value: object, element: Element, primitive: object, path: str) -> None:
        """``_birthDate``: the id and extensions of a primitive; an array of them beside an array of primitives."""
        element_node = self.nodes["Element"]
        if element.many:
            if not isinstance(value, list) or (isinstance(primitive, list) and len(primitive) != len(value)):
                self.problem(path, "must be an array as long as the primitive array it extends")
                return
            for i, item in enumerate(value):
                if item is not None:
                    self.object(item, element_node, f"{path}[{i}]")
        else:
            self.object(value, element_node, path)

    def codings(self, value: dict, element: Element, path: str) -> None:
        """A Coding (or the codings of a CodeableConcept) from a system of a required value set must be one of
        its codes."""
        codings = value.get("coding") if element.type == "CodeableConcept" else [value]
        if not isinstance(codings, list):
            return
        for i, coding in enumerate(codings):
            if not isinstance(coding, dict):
                continue
            system, code = coding.get("system"), coding.get("code")
            codes = element.codes.get(system) if isinstance(system, str) else None  # type: ignore[union-attr]
            if codes is not None and isinstance(code, str) and code not in codes:
                where = f"{path}.coding[{i}].code" if element.type == "CodeableConcept" else f"{path}.code"
                self.problem(where, f"{_quote(code)} is not a code of {element.valueset}", "code-invalid")

    def target(self, value: dict, targets: frozenset[str], path: str) -> None:
        """A relative literal reference must name one of the types the element allows (its targetProfile)."""
        reference = value.get("reference")
        named = literal_type(reference) if type(reference) is str else None
        if named is None or named in targets:
            return
        # a type name is vocabulary; anything else may be free text, and is not quoted
        which = f"{named} is not one of them" if named in self.resources else "that is not a resource type"
        allowed = ", ".join(sorted(targets))
        self.problem(f"{path}.reference", f"may refer to {allowed} only; {which}", "value")

    # --- primitives ----------------------------------------------------------------------------------------------

    def primitive(self, value: object, primitive: Primitive, path: str) -> None:
        kind = primitive.json
        if kind == "string":
            if not isinstance(value, str):
                self.problem(path, f"must be a JSON string ({primitive.name})", "value")
            elif not value:
                self.problem(path, "an empty string is not allowed", "value")
            elif primitive.pattern is not None and not primitive.pattern.fullmatch(value):
                self.problem(path, f"is not a valid {primitive.name}", "value")
            elif primitive.name in ("date", "dateTime", "instant") and not _real_date(value):
                self.problem(path, f"is not a valid {primitive.name} (no such day)", "value")
        elif kind == "boolean":
            if not isinstance(value, bool):
                self.problem(path, "must be JSON true or false", "value")
        elif kind == "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                self.problem(path, f"must be a JSON integer ({primitive.name})", "value")
            elif not _INT32[0] <= value <= _INT32[1]:
                self.problem(path, "is outside the 32-bit integer range", "value")
            elif (primitive.name == "positiveInt" and value < 1) or (primitive.name == "unsignedInt" and value < 0):
                self.problem(path, f"must be a {primitive.name}", "value")
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            self.problem(path, "must be a JSON number (decimal)", "value")


def _real_date(value: str) -> bool:
    """Whether the day of a full date is on the calendar (the patterns accept 2025-02-31)."""
    if len(value) < 10:
        return True
    try:
        datetime.date.fromisoformat(value[:10])
    except ValueError:
        return False
    return True


def structure_issues(resource: dict, keys: frozenset[str] | None = None) -> list[Issue]:
    """Every structural problem of ``resource`` (a top-level resource, ``resourceType`` already known)."""
    walk = Walk()
    walk.resource(resource, resource.get("resourceType", ""), keys)
    return walk.issues
