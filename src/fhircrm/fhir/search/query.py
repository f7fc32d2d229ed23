"""Parse a FHIR search query string into filters and result controls.

``Appointment?date=ge2024-01-01&patient:Patient.identifier=x&_has:Task:focus:status=ready&_sort=-date`` becomes
a ``SearchQuery``: a list of ``Filter`` (ANDed; each holds ORed values) and the result parameters.
Unknown parameters are collected in ``ignored`` (left out of the self link) or refused under
``Prefer: handling=strict``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache

from fhircrm.errors import BadRequest, UnknownParameter
from fhircrm.fhir.inputs import check_search_pairs
from fhircrm.fhir.resource_types import RESOURCE_TYPE_SET
from fhircrm.fhir.search.param_types import PARAM_TYPES, ParamType
from fhircrm.fhir.search.param_types.base import refusal, shown
from fhircrm.fhir.search.registry import SearchParam, registry

RESULT_PARAMS = frozenset(
    {
        "_count",
        "_offset",
        "_sort",
        "_include",
        "_revinclude",
        "_summary",
        "_elements",
        "_total",
        "_contained",
        "_containedType",
        "_format",
        "_pretty",
    }
)
SPECIAL_FILTERS = {
    "_id": "token",
    "_lastUpdated": "date",
}
SUMMARY_MODES = frozenset({"true", "false", "count", "text", "data"})
TOTAL_MODES = frozenset({"none", "estimate", "accurate"})
_SPLIT_COMMA = re.compile(r"(?<!\\),")
#: the deepest page a search or history may ask for (``_offset``): deeper paging is a crawl, and a 30-digit
#: offset would overflow the database's integers
MAX_OFFSET = 1_000_000
#: a ``_count`` beyond this is refused rather than capped (the page itself is capped at max_page_size)
MAX_COUNT = 2**31 - 1


def split_values(value: str) -> list[str]:
    """Comma means OR; ``\\,`` is a literal comma."""
    return [v.replace("\\,", ",") for v in _SPLIT_COMMA.split(value)]


@dataclass(frozen=True, slots=True)
class Chain:
    """One link of a chain: follow ``param`` (a reference) to resources of ``target_type``."""

    param: SearchParam
    target_types: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Has:
    """One reverse link (``_has:source_type:param``): some ``source_type`` whose ``param`` points here matches."""

    source_type: str
    param: SearchParam


@dataclass(frozen=True, slots=True)
class Filter:
    """``param[:modifier]=v1,v2`` (after following the ``chain`` of forward and reverse ``_has`` links, in order)."""

    resource_type: str  # the type ``param`` belongs to (after chaining)
    code: str
    type: str  # token | string | date | reference | number | quantity | uri
    param: SearchParam | None  # None for _id / _lastUpdated (columns of the resource table)
    modifier: str | None
    values: tuple[str, ...]
    #: the links to follow, outermost first: forward (``subject:Patient.``) and reverse (``_has:Group:member:``)
    #: ones in any order, so ``patient._has:Group:member:_id=g`` keeps the reverse link after the forward one
    chain: tuple[Chain | Has, ...] = ()
    raw_name: str = ""
    raw_value: str = ""
    #: this server's FHIR base: absolute references under it are local ones (set by the compiler)
    base: str = ""
    #: for a parameter of every resource (``_tag`` in a system-level search): the types it applies to
    types: tuple[str, ...] = ()

    @property
    def kind(self) -> ParamType:
        """The object of the parameter's type: its table, condition, modifiers and sort columns."""
        return PARAM_TYPES[self.type]


@dataclass(frozen=True, slots=True)
class Include:
    source_type: str
    param: str  # a reference parameter code of source_type, or "*"
    target_type: str | None
    iterate: bool
    reverse: bool


@dataclass(slots=True)
class SearchQuery:
    resource_type: str | None  # None for a system-level search
    filters: list[Filter] = field(default_factory=list)
    sort: list[tuple[str, bool]] = field(default_factory=list)  # (code, descending)
    count: int | None = None
    offset: int = 0
    includes: list[Include] = field(default_factory=list)
    summary: str | None = None
    elements: tuple[str, ...] = ()
    total: str | None = None
    types: tuple[str, ...] = ()  # _type of a system-level search
    base: str = ""  # this server's FHIR base, to tell local absolute references from foreign ones
    ignored: list[str] = field(default_factory=list)
    #: the (name, value) pairs that were understood, for the self and paging links
    used: list[tuple[str, str]] = field(default_factory=list)


def _param(resource_type: str, code: str) -> SearchParam | None:
    if resource_type == "Resource":
        return _resource_param(code)
    return registry().get(resource_type, code)


@cache
def _resource_param(code: str) -> SearchParam | None:
    """A parameter every resource has (``_tag``, ``_profile``, ``_security``, ``_source``), for system search.

    Bundle is not a DomainResource, so its ``_`` parameters are exactly those of Resource.
    """
    found = registry().get("Bundle", code) if code.startswith("_") else None
    if found is None:
        return None
    return SearchParam("Resource", code, found.type, found.expression, found.url)


def _not_a_reference(resource_type: str, code: str) -> str | None:
    """Why ``code`` cannot be followed as a reference from ``resource_type``, or None when it can."""
    param = _param(resource_type, code)
    if param is None:
        return f"{resource_type} has no search parameter '{code[:64]}'"
    if param.type != "reference":
        return f"'{code}' is a {param.type} search parameter of {resource_type}, not a reference"
    return None


def _chain_targets(param: SearchParam, type_modifier: str | None, next_code: str) -> tuple[str, ...]:
    if type_modifier:
        if param.targets and type_modifier not in param.targets:
            raise BadRequest(f"{param.code} cannot refer to a {type_modifier[:64]} ({', '.join(param.targets)})")
        return (type_modifier,)
    if next_code == "_has":  # a reverse link can point at any resource type
        targets = param.targets
    else:
        targets = tuple(t for t in param.targets if _param(t, next_code) or next_code in SPECIAL_FILTERS)
    if not targets:
        raise BadRequest(f"no target type of {param.code} has a search parameter '{next_code[:64]}'")
    return targets


def _parse_has(resource_type: str, name: str, value: str) -> Filter:
    # _has:Type:refParam:param[:modifier] (nesting allowed: _has:A:ref:_has:B:ref2:param)
    parts = name.split(":")
    has: list[Has] = []
    target = resource_type
    while parts and parts[0] == "_has":
        if len(parts) < 4:
            raise BadRequest("_has takes _has:Type:reference:parameter")
        source_type, ref_code = parts[1], parts[2]
        if source_type not in RESOURCE_TYPE_SET:
            raise BadRequest(f"'{source_type[:64]}' is not a resource type")
        if why := _not_a_reference(source_type, ref_code):
            raise BadRequest(why)
        ref = _param(source_type, ref_code)
        assert ref is not None
        has.append(Has(source_type, ref))
        target = source_type
        parts = parts[3:]
    inner = _parse_filter(target, ":".join(parts), value)
    if inner is None:
        raise BadRequest(f"{target} has no search parameter '{':'.join(parts)[:64]}'")
    return Filter(
        resource_type=inner.resource_type,
        code=inner.code,
        type=inner.type,
        param=inner.param,
        modifier=inner.modifier,
        values=inner.values,
        chain=(*has, *inner.chain),
        raw_name=name,
        raw_value=value,
    )


def _parse_filter(resource_type: str, name: str, value: str) -> Filter | None:
    if name.startswith("_has:"):
        return _parse_has(resource_type, name, value)
    head, _, rest = name.partition(".")
    code, _, modifier = head.partition(":")
    modifier = modifier or None
    if rest:  # chained: ref[:Type].next
        param = _param(resource_type, code)
        if param is None:
            return None
        if param.type != "reference":
            raise BadRequest(f"'{code}' is a {param.type} search parameter of {resource_type}: only references chain")
        next_code = rest.split(".", 1)[0].split(":", 1)[0]
        targets = _chain_targets(param, modifier, next_code)
        inner = None
        for target in targets:  # every target must understand the rest of the chain
            inner = _parse_filter(target, rest, value)
            if inner is None:
                raise BadRequest(f"{target} has no search parameter '{rest[:64]}'")
        assert inner is not None
        return Filter(
            resource_type=inner.resource_type,
            code=inner.code,
            type=inner.type,
            param=inner.param,
            modifier=inner.modifier,
            values=inner.values,
            chain=(Chain(param, targets), *inner.chain),
            raw_name=name,
            raw_value=value,
        )
    if code in SPECIAL_FILTERS:
        param_type, param = SPECIAL_FILTERS[code], None
    else:
        param = _param(resource_type, code)
        if param is None:
            return None
        param_type = param.type
    if modifier == "missing" and value not in ("true", "false"):
        raise BadRequest(":missing takes true or false")
    values = tuple(split_values(value))
    if any(v == "" for v in values) and modifier != "missing":
        raise BadRequest("an empty value")
    return Filter(
        resource_type=resource_type,
        code=code,
        type=param_type,
        param=param,
        modifier=modifier,
        values=values,
        raw_name=name,
        raw_value=value,
    )


def whole_number(name: str, value: str, *, minimum: int = 0, maximum: int = MAX_COUNT) -> int:
    """``value`` as a whole number within [minimum, maximum]: ASCII digits only (no ``1_000``, no other scripts'
    digits, no 30-digit numbers); 400 naming the parameter and the limit otherwise."""
    text = value.strip()
    if not (text.isascii() and text.isdigit()):
        raise refusal(name, value, "must be a whole number")
    number = int(text) if len(text) <= 20 else maximum + 1
    if number < minimum:
        raise refusal(name, value, f"must be at least {minimum}")
    if number > maximum:
        raise refusal(name, value, f"must be at most {maximum}")
    return number


def _parse_include(name: str, value: str, resource_type: str | None) -> Include:
    base_name, _, modifier = name.partition(":")
    if base_name not in ("_include", "_revinclude") or modifier not in ("", "iterate", "recurse"):
        raise refusal(name, value, f"unknown parameter (the modifiers of {base_name} are :iterate and :recurse)")
    reverse = base_name == "_revinclude"
    iterate = bool(modifier)
    if value == "*" and resource_type and not reverse:
        return Include(resource_type, "*", None, iterate, reverse)
    parts = value.split(":")
    if len(parts) not in (2, 3):
        raise refusal(name, value, "takes Type:parameter[:targetType]")
    source, code = parts[0], parts[1]
    target = parts[2] if len(parts) == 3 else None
    if source not in RESOURCE_TYPE_SET:
        raise refusal(name, value, f"'{source[:64]}' is not a resource type")
    if code != "*" and (why := _not_a_reference(source, code)):
        raise refusal(name, value, why)
    if target and target not in RESOURCE_TYPE_SET:
        raise refusal(name, value, f"'{target[:64]}' is not a resource type")
    return Include(source, code, target, iterate, reverse)


def _parse_named_filter(resource_type: str | None, name: str, value: str) -> Filter | None:
    """A filter, or None when the parameter is unknown; errors name the parameter and the value they are about."""
    try:
        if resource_type is not None:
            return _parse_filter(resource_type, name, value)
        if "." not in name and not name.startswith("_has:"):  # system level: parameters of every resource
            return _parse_filter("Resource", name, value)
        return None
    except BadRequest as error:
        raise refusal(name, value, error.diagnostics) from None


def parse(resource_type: str | None, pairs: Iterable[tuple[str, str]], *, strict: bool = False) -> SearchQuery:
    pairs = list(pairs)
    check_search_pairs(pairs)  # control characters never reach SQL (PostgreSQL refuses NUL in text)
    query = SearchQuery(resource_type)
    for name, value in pairs:
        if name in ("_format", "_pretty", "_contained", "_containedType"):
            continue
        if name == "_count":
            query.count = whole_number(name, value)
        elif name == "_offset":
            query.offset = whole_number(name, value, maximum=MAX_OFFSET)
            continue  # paging position: not part of the query's identity
        elif name == "_sort":
            for key in value.split(","):
                key = key.strip()
                descending = key.startswith("-")
                code = key.lstrip("-")
                if not code:
                    raise refusal(name, value, "an empty sort key")
                if code not in SPECIAL_FILTERS:
                    if resource_type is None:
                        raise refusal(name, value, "a search of every type sorts by _id or _lastUpdated only")
                    if _param(resource_type, code) is None:
                        raise refusal(name, value, f"{resource_type} has no search parameter '{code[:64]}'")
                query.sort.append((code, descending))
        elif name.startswith(("_include", "_revinclude")):
            query.includes.append(_parse_include(name, value, resource_type))
        elif name == "_summary":
            if value not in SUMMARY_MODES:
                raise refusal(name, value, f"must be one of {', '.join(sorted(SUMMARY_MODES))}")
            query.summary = value
        elif name == "_elements":
            query.elements = tuple(e.strip() for e in value.split(",") if e.strip())
        elif name == "_type" and resource_type is None:
            query.types = tuple(split_values(value))
            unknown = [t for t in query.types if t not in RESOURCE_TYPE_SET]
            if unknown:
                raise refusal(name, value, f"'{unknown[0][:64]}' is not a resource type")
        elif name == "_total":
            if value not in TOTAL_MODES:
                raise refusal(name, value, f"must be one of {', '.join(sorted(TOTAL_MODES))}")
            query.total = value
        else:
            parsed = _parse_named_filter(resource_type, name, value)
            if parsed is None:
                if strict:
                    where = f" of {resource_type}" if resource_type else ""
                    raise UnknownParameter(f"{name}={shown(value)}: unknown search parameter{where}", expression=name)
                query.ignored.append(name)
                continue
            query.filters.append(parsed)
        query.used.append((name, value))
    return query
