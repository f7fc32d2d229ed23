"""Turn a resource into the rows of the search index tables, at write time.

Each parameter's extractor yields FHIR values (strings, Codings, HumanNames, Periods, References...); the
parameter's type (``param_types``) maps them onto the columns of its table. Values that do not fit the type are
skipped: a search index must never make a valid write fail.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import cache, lru_cache

from fhircrm.fhir.search.param_types import ParamType
from fhircrm.fhir.search.paths import Extractor, compile_expression, expression_roots, reads_element
from fhircrm.fhir.search.registry import SearchParam, registry, sp_hash

# Parameters whose values live in the resource table itself, not in an index table.
COLUMN_PARAMS = frozenset({"_id", "_lastUpdated"})


def identifier_code(code: str) -> str:
    """The pseudo-parameter under which ``reference.identifier`` values are indexed for ``:identifier``."""
    return f"{code}:identifier"


@dataclass(frozen=True, slots=True)
class CompiledParam:
    param: SearchParam
    kind: ParamType  # the parameter's type: where its rows go and how values become rows
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
        identifier_sp = sp_hash(resource_type, identifier_code(param.code))
        out.append(CompiledParam(param, param.kind, extractor, identifier_sp, roots))
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
        out[compiled.kind.name].append(compiled.param.sp)
        if compiled.kind.identifier is not None:
            out[compiled.kind.identifier.name].append(compiled.identifier_sp)
    return out


def index_rows(resource: dict, changed: frozenset[str] | None = None) -> dict[str, list[dict]]:
    """The index rows of ``resource`` by parameter type, each row with its ``sp`` (but no ``res_pk`` yet): all of
    them, or with ``changed``, those of the parameters that read a changed element."""
    rows: dict[str, list[dict]] = defaultdict(list)
    for compiled in affected_params(resource["resourceType"], changed):
        sp, kind = compiled.param.sp, compiled.kind
        name, to_rows, identifier = kind.name, kind.rows, kind.identifier
        seen: set[tuple] = set()
        for value in compiled.extract(resource):
            for row in to_rows(value):
                key = tuple(row.values())
                if key in seen:
                    continue
                seen.add(key)
                row["sp"] = sp
                rows[name].append(row)
            if identifier is not None and isinstance(value, dict):
                identified = value.get("identifier")
                if isinstance(identified, dict):
                    for row in identifier.rows(identified):
                        row["sp"] = compiled.identifier_sp
                        rows[identifier.name].append(row)
    return rows
