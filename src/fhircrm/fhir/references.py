"""References inside resources: find them, check their form, rewrite them.

A Reference is any object with a string ``reference`` (in elements, extensions, contained resources). A
transaction rewrites ``urn:uuid:`` placeholders and conditional references (``Patient?identifier=x|y``) into
``Type/id`` before anything is stored; the store refuses a reference that has none of the forms FHIR allows,
pointing at the element, so a typo never becomes a dangling link that no search can find.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from fhircrm.errors import Issue, Unprocessable

_LITERAL = re.compile(r"^[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}(/_history/[A-Za-z0-9\-.]{1,64})?$")
_ABSOLUTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S+$")  # http(s)://..., urn:uuid:..., urn:oid:...
_CONDITIONAL = re.compile(r"^[A-Z][A-Za-z]+\?\S+$")
_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_RELATIVE = re.compile(r"^[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}$")
#: Elements named ``reference`` that are uris, not References (R4: Immunization.education.reference).
_URI_PARENTS = frozenset({"education"})


def is_conditional(reference: str) -> bool:
    return bool(_CONDITIONAL.match(reference))


def is_valid(reference: str) -> bool:
    """Literal (``Type/id[/_history/v]``), absolute (a URL or URN) or local (``#id``)."""
    return reference.startswith("#") or bool(_LITERAL.match(reference) or _ABSOLUTE.match(reference))


def _is_reference(node: dict, parent_key: str) -> bool:
    return (
        isinstance(node.get("reference"), str)
        and "resourceType" not in node
        and parent_key not in _URI_PARENTS
        and "language" not in node  # an Expression: its reference is a uri
    )


def objects(node: object, parent_key: str = "") -> list[dict]:
    """Every Reference object under ``node`` (the fast path: an explicit stack, no locations built; it runs twice
    for every resource written, so it avoids generators and ``isinstance`` on unions)."""
    found: list[dict] = []
    stack: list[tuple[object, str]] = [(node, parent_key)]
    push, pop = stack.append, stack.pop
    while stack:
        item, key = pop()
        if type(item) is dict:
            if "reference" in item and _is_reference(item, key):
                found.append(item)
            for name, value in item.items():
                kind = type(value)
                if kind is dict or kind is list:
                    push((value, name))
        elif type(item) is list:
            for value in item:
                kind = type(value)
                if kind is dict or kind is list:
                    push((value, key))
    return found


def walk(node: object, path: str, parent_key: str = "") -> Iterator[tuple[dict, str]]:
    """Every Reference object under ``node`` with its FHIRPath-like location (``Observation.subject``)."""
    if isinstance(node, dict):
        if "reference" in node and _is_reference(node, parent_key):
            yield node, path
        for key, value in node.items():
            if isinstance(value, dict | list):
                yield from walk(value, f"{path}.{key}", key)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            if isinstance(item, dict | list):
                yield from walk(item, f"{path}[{i}]", parent_key)


def split(reference: str) -> tuple[str, str]:
    """``("Patient", "1")`` for the relative reference ``Patient/1`` (as the store writes and checks them):
    the one way code takes a reference apart, so no module parses ``Type/id`` by hand."""
    resource_type, _, fhir_id = reference.partition("/")
    return resource_type, fhir_id


def literal_type(reference: str) -> str | None:
    """The type a relative literal reference names (``Patient`` for ``Patient/1`` or ``Patient/1/_history/2``);
    None for any other form (absolute, ``urn:uuid:``, local ``#id``, conditional, not a reference)."""
    return reference.partition("/")[0] if _LITERAL.match(reference) else None


def relative(reference: str) -> tuple[str, str] | None:
    """``(Type, id)`` of a relative, unversioned literal reference; None for any other form (absolute, versioned,
    local ``#id``, conditional, or not a reference at all)."""
    if not _RELATIVE.match(reference):
        return None
    return split(reference)


def target(reference: str, base: str = "") -> tuple[str, str] | None:
    """``(Type, id)`` a literal reference names: relative, or absolute under ``base`` (or any URL ending in
    ``Type/id``), a ``/_history/v`` suffix dropped; None when it has no ``Type/id`` at all."""
    relative = reference.removeprefix(base.rstrip("/") + "/") if base else reference
    parts = relative.split("/_history/")[0].split("/")
    return (parts[-2], parts[-1]) if len(parts) >= 2 else None


def patient_id(reference: str) -> str | None:
    """The id of the Patient a reference names (``Patient/1``, ``Patient/1/_history/2``, or an absolute URL
    ending in ``/Patient/1``); None for anything else."""
    parts = reference.split("/_history/", 1)[0].rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2] == "Patient" and _ID.match(parts[-1]):
        return parts[-1]
    return None


def location(document: object, root: str, target: dict) -> str:
    """Where the Reference object ``target`` sits in ``document`` (computed only when reporting an error)."""
    return next((f"{path}.reference" for ref, path in walk(document, root) if ref is target), root)


def check(resource: dict) -> None:
    """Raise 422 with one issue per reference that is not in a form FHIR allows."""
    if all(is_valid(ref["reference"]) for ref in objects(resource)):
        return
    issues = [
        Issue(f"not a valid reference: {ref['reference'][:80]!r}", code="value", expression=(f"{path}.reference",))
        for ref, path in walk(resource, resource["resourceType"])
        if not is_valid(ref["reference"])
    ]
    raise Unprocessable(issues[0].diagnostics, issues=issues)
