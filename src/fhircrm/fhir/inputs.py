"""Input at the edge: what a client sends is checked for characters, sizes and shapes the database or the
validators cannot take, before any of it reaches SQL, so a careless or hostile client gets a 400/422 that
names the place instead of a 500 (PostgreSQL refuses NUL in text and jsonb; a deeply nested body exhausts
Python's recursion in the validators; a 30-digit offset overflows a bigint).

FHIR R4 ``string`` is ``[ \\r\\n\\t\\S]+``: of the control characters only tab, CR and LF are allowed in resource
strings and search values; ids, type names and parameter names take none. Messages name where the problem is,
never the value (it may be a name or a phone number).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from fhircrm.errors import BadRequest, Unprocessable

#: C0 controls and DEL, except tab, LF and CR (which FHIR strings allow)
TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
#: every C0 control and DEL: none belongs in an id, a type, a parameter name or a header token
ANY_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: JSON nesting (objects and lists) a resource may have: real resources stay far below (a Questionnaire nested
#: ten groups deep is ~25); beyond it the validators would recurse without bound.
MAX_DEPTH = 64
#: what a request body may nest: a resource inside a Bundle entry (Bundle > entry > [i] > resource) or Parameters
MAX_BODY_DEPTH = MAX_DEPTH + 8
#: FHIR integer is 32-bit and integer64 64-bit: nothing larger is a FHIR number (or fits a SQL bigint)
MAX_INTEGER = 2**63 - 1


def escaped(text: str, limit: int = 64) -> str:
    """``text`` cut to ``limit`` characters with control characters shown as ``\\xNN`` (for messages and logs)."""
    return ANY_CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text[:limit])


def check_search_pairs(pairs: Iterable[tuple[str, str]]) -> None:
    """400 for a search parameter whose name holds any control character or whose value holds one FHIR strings
    do not allow; the message names the parameter (escaped), never the value."""
    for name, value in pairs:
        if ANY_CONTROL.search(name):
            raise BadRequest(
                f"search parameter name {escaped(name)} holds a control character", expression=escaped(name)
            )
        if TEXT_CONTROL.search(value):
            raise BadRequest(f"the value of search parameter {name[:64]} holds a control character", expression=name)


def check_token(value: str, what: str) -> None:
    """400 for a path segment or header value (an id, a type name, an ETag) that holds a control character."""
    if ANY_CONTROL.search(value):
        raise BadRequest(f"{what} holds a control character: {escaped(value)}", expression=what)


def depth_of(value: object, limit: int) -> int:
    """How deeply ``value`` nests (objects and lists), counted up to ``limit + 1`` at most (no recursion)."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        kind = type(item)
        if kind is dict or kind is list:
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
            for child in item.values() if kind is dict else item:  # type: ignore[union-attr]
                if type(child) is dict or type(child) is list:
                    stack.append((child, depth + 1))
    return deepest


def check_body_depth(body: object, *, limit: int = MAX_BODY_DEPTH) -> None:
    """422 for a request body nested deeper than ``limit``, before anything walks it recursively."""
    if depth_of(body, limit) > limit:
        raise Unprocessable(f"the body nests deeper than {limit} levels")


def check_resource(resource: dict, *, max_depth: int = MAX_DEPTH) -> None:
    """422 for resource content the store cannot keep: nesting deeper than ``max_depth``, control characters
    (other than tab, CR, LF) in strings or keys, numbers out of range (huge integers, inf, NaN). The issue's
    expression is the element's path (``Patient.name[0].family``).

    It runs for every resource written, so the common case is one pass without paths; only a refused resource
    is walked again to name the element."""
    if _fine(resource, max_depth):
        return
    resource_type = str(resource.get("resourceType", "Resource"))
    stack: list[tuple[object, int, str]] = [(resource, 1, resource_type)]
    while stack:
        item, depth, path = stack.pop()
        kind = type(item)
        if kind is dict or kind is list:
            if depth > max_depth:
                raise Unprocessable(f"{resource_type} nests deeper than {max_depth} levels", expression=path)
            if kind is dict:
                for key, value in item.items():  # type: ignore[union-attr]
                    if type(key) is not str or ANY_CONTROL.search(key):
                        raise Unprocessable(f"{path} has an element name with a control character", expression=path)
                    stack.append((value, depth + 1, f"{path}.{key}"))
            else:
                stack.extend((value, depth + 1, f"{path}[{i}]") for i, value in enumerate(item))  # type: ignore[arg-type]
        elif not _fine_scalar(item):
            problem = (
                "holds a control character FHIR strings do not allow" if kind is str else "is not a number it can store"
            )
            raise Unprocessable(f"{path} {problem}", expression=path)


def _fine_scalar(item: object) -> bool:
    kind = type(item)
    if kind is str:
        return TEXT_CONTROL.search(item) is None  # type: ignore[arg-type]
    if kind is int:
        return -MAX_INTEGER <= item <= MAX_INTEGER  # type: ignore[operator]
    if kind is float:
        return math.isfinite(item)  # type: ignore[arg-type]
    return True


def _fine(resource: dict, max_depth: int) -> bool:
    """The fast pass: True when nothing is wrong (strings checked in one regex search over all of them)."""
    texts: list[str] = []
    stack: list[tuple[object, int]] = [(resource, 1)]
    push, pop, add = stack.append, stack.pop, texts.append
    while stack:
        item, depth = pop()
        if depth > max_depth:
            return False
        if type(item) is dict:
            for key, value in item.items():  # type: ignore[union-attr]
                add(key)
                kind = type(value)
                if kind is str:
                    add(value)
                elif kind is dict or kind is list:
                    push((value, depth + 1))
                elif not _fine_scalar(value):
                    return False
        else:
            for value in item:  # type: ignore[union-attr]
                kind = type(value)
                if kind is str:
                    add(value)
                elif kind is dict or kind is list:
                    push((value, depth + 1))
                elif not _fine_scalar(value):
                    return False
    try:
        joined = "\n".join(texts)
    except TypeError:  # a key that is not a string
        return False
    return TEXT_CONTROL.search(joined) is None
