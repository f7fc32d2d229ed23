"""Turn a resource into the rows of the search index tables, at write time.

Each parameter's extractor yields FHIR values (strings, Codings, HumanNames, Periods, References...); this
module maps them onto the columns of the parameter type's table. Values that do not fit the type are skipped:
a search index must never make a valid write fail.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from fhircrm.fhir.search.dates import InvalidDate, date_range, period_range
from fhircrm.fhir.search.paths import Extractor, compile_expression, expression_roots, reads_element
from fhircrm.fhir.search.registry import SearchParam, registry, sp_hash

MAX_TOKEN = 255
# Parameters whose values live in the resource table itself, not in an index table.
COLUMN_PARAMS = frozenset({"_id", "_lastUpdated"})

_REFERENCE = re.compile(
    r"^(?:(?P<base>https?://.+?)/)?(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$"
)
_STRING_SKIP_KEYS = frozenset({"use", "system", "extension", "id", "period", "type"})


def normalize(text: str) -> str:
    """Case- and accent-insensitive form used by the default string search."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.casefold()[:MAX_TOKEN]


def _clip(value: Any) -> str | None:
    if value is None:
        return None
    return str(value)[:MAX_TOKEN]


def identifier_code(code: str) -> str:
    """The pseudo-parameter under which ``reference.identifier`` values are indexed for ``:identifier``."""
    return f"{code}:identifier"


@dataclass(frozen=True, slots=True)
class CompiledParam:
    param: SearchParam
    extract: Extractor
    identifier_sp: int  # where Reference.identifier values of a reference parameter go
    roots: frozenset[str] | None  # the top-level elements it reads; None: cannot tell, any change may matter

    def reads_any(self, changed: frozenset[str]) -> bool:
        if self.roots is None:
            return True
        return any(reads_element(root, key) for root in self.roots for key in changed)


@cache
def compiled_params(resource_type: str) -> tuple[CompiledParam, ...]:
    out = []
    for param in registry().params(resource_type).values():
        if param.code in COLUMN_PARAMS:
            continue
        extractor, fast = compile_expression(param.expression, resource_type)
        roots = expression_roots(param.expression, resource_type) if fast else None
        out.append(CompiledParam(param, extractor, sp_hash(resource_type, identifier_code(param.code)), roots))
    return tuple(out)


@lru_cache(maxsize=4096)
def affected_params(resource_type: str, changed: frozenset[str] | None) -> tuple[CompiledParam, ...]:
    """The parameters whose index rows an update that changed these top-level elements must rewrite (all of
    them when ``changed`` is None)."""
    params = compiled_params(resource_type)
    if changed is None:
        return params
    return tuple(compiled for compiled in params if compiled.reads_any(changed))


def affected_sps(resource_type: str, changed: frozenset[str]) -> dict[str, list[int]]:
    """The ``sp`` keys of the index rows to replace after such an update, by parameter type (the table)."""
    out: dict[str, list[int]] = defaultdict(list)
    for compiled in affected_params(resource_type, changed):
        out[compiled.param.type].append(compiled.param.sp)
        if compiled.param.type == "reference":
            out["token"].append(compiled.identifier_sp)
    return out


# --- one function per parameter type: FHIR value -> column dicts -------------------------------------------


def token_rows(value: Any) -> Iterable[dict]:
    if isinstance(value, bool):
        yield {"system": None, "code": "true" if value else "false", "display": None}
    elif isinstance(value, str | int | float):
        yield {"system": None, "code": _clip(value), "display": None}
    elif isinstance(value, dict):
        if "coding" in value or ("text" in value and "value" not in value):
            text = _clip(value.get("text"))
            codings = value.get("coding") or []
            for coding in codings:
                yield {
                    "system": _clip(coding.get("system")),
                    "code": _clip(coding.get("code")),
                    "display": text or _clip(coding.get("display")),
                }
            if text and not codings:
                yield {"system": None, "code": None, "display": text}
        elif "code" in value:  # Coding, or a Quantity used as a token
            yield {
                "system": _clip(value.get("system")),
                "code": _clip(value.get("code")),
                "display": _clip(value.get("display")),
            }
        elif "value" in value:  # Identifier, ContactPoint
            type_text = value.get("type", {}).get("text") if isinstance(value.get("type"), dict) else None
            yield {"system": _clip(value.get("system")), "code": _clip(value["value"]), "display": _clip(type_text)}


def _string_leaves(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _string_leaves(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in _STRING_SKIP_KEYS:
                yield from _string_leaves(item)


def string_rows(value: Any) -> Iterable[dict]:
    seen: set[str] = set()
    for text in _string_leaves(value):
        if text and text not in seen:
            seen.add(text)
            yield {"norm": normalize(text), "exact": text[:1024]}


def date_rows(value: Any) -> Iterable[dict]:
    try:
        if isinstance(value, str):
            low, high = date_range(value)
            yield {"low": low, "high": high}
        elif isinstance(value, dict):
            if "start" in value or "end" in value:
                bounds = period_range(value)
                if bounds:
                    yield {"low": bounds[0], "high": bounds[1]}
            elif "event" in value or "repeat" in value:  # Timing
                for event in value.get("event", []):
                    yield from date_rows(event)
                bounds = value.get("repeat", {}).get("boundsPeriod")
                if bounds:
                    yield from date_rows(bounds)
    except InvalidDate:
        return


def reference_rows(value: Any) -> Iterable[dict]:
    reference = value.get("reference") if isinstance(value, dict) else value
    if not isinstance(reference, str) or reference.startswith("#"):
        return
    m = _REFERENCE.match(reference)
    if m:
        yield {
            "target_type": m["type"],
            "target_id": m["id"],
            "url": reference[:1024] if m["base"] else None,
        }
    else:  # canonical URL, urn, or an absolute URL that is not a FHIR REST address
        yield {"target_type": None, "target_id": None, "url": reference.split("|", 1)[0][:1024]}


def number_rows(value: Any) -> Iterable[dict]:
    if isinstance(value, int | float) and not isinstance(value, bool):
        yield {"value": float(value)}


def quantity_rows(value: Any) -> Iterable[dict]:
    if isinstance(value, dict) and isinstance(value.get("value"), int | float):
        code = value.get("code") or value.get("currency") or value.get("unit")
        yield {"value": float(value["value"]), "system": _clip(value.get("system")), "code": _clip(code)}
        if value.get("unit") and value.get("unit") != code:
            yield {"value": float(value["value"]), "system": None, "code": _clip(value["unit"])}


def uri_rows(value: Any) -> Iterable[dict]:
    if isinstance(value, str):
        yield {"uri": value[:1024]}


ROWS = {
    "token": token_rows,
    "string": string_rows,
    "date": date_rows,
    "reference": reference_rows,
    "number": number_rows,
    "quantity": quantity_rows,
    "uri": uri_rows,
}


def index_rows(resource: dict, changed: frozenset[str] | None = None) -> dict[str, list[dict]]:
    """The index rows of ``resource`` by parameter type, each row with its ``sp`` (but no ``res_pk`` yet): all of
    them, or with ``changed``, those of the parameters that read a changed element."""
    rows: dict[str, list[dict]] = defaultdict(list)
    for compiled in affected_params(resource["resourceType"], changed):
        param = compiled.param
        to_rows = ROWS[param.type]
        seen: set[tuple] = set()
        for value in compiled.extract(resource):
            for row in to_rows(value):
                key = tuple(row.values())
                if key in seen:
                    continue
                seen.add(key)
                row["sp"] = param.sp
                rows[param.type].append(row)
            if param.type == "reference" and isinstance(value, dict):
                identifier = value.get("identifier")
                if isinstance(identifier, dict):
                    for row in token_rows(identifier):
                        row["sp"] = compiled.identifier_sp
                        rows["token"].append(row)
    return rows
