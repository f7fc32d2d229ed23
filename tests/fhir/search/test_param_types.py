"""One object per search parameter type (``fhir/search/param_types``) is what the registry, the
CapabilityStatement, the extractor, the writer and the search compiler all read."""

from __future__ import annotations

import httpx
import orjson

from fhircrm.fhir.paths import DEFINITIONS
from fhircrm.fhir.resource_types import RESOURCE_TYPES
from fhircrm.fhir.search import query as search_query
from fhircrm.fhir.search.extract import index_rows
from fhircrm.fhir.search.param_types import PARAM_TYPES
from fhircrm.fhir.search.registry import registry
from fhircrm.fhir.sql import search as sql_search
from fhircrm.fhir.sql.tables import metadata
from fhircrm.fhir.sql.writer import Version, _index_tuples


def _registered() -> list:
    return [p for t in RESOURCE_TYPES for p in registry().params(t).values()]


def test_every_registered_parameter_has_the_one_object_of_its_type() -> None:
    params = _registered()
    assert all(p.kind is PARAM_TYPES[p.type] for p in params)
    assert {p.type for p in params} == set(PARAM_TYPES), "every type object is used by some parameter"


def test_composite_and_special_parameters_have_no_object_and_are_not_registered() -> None:
    bundle = orjson.loads((DEFINITIONS / "search-parameters.json").read_bytes())
    unindexed = {e["resource"]["type"] for e in bundle["entry"]} - set(PARAM_TYPES)
    assert unindexed == {"composite", "special"}
    assert not any(p.type in unindexed for p in _registered())


def test_each_type_has_its_own_index_table_with_its_value_columns() -> None:
    tables = [kind.table for kind in PARAM_TYPES.values()]
    assert len({t.name for t in tables}) == len(tables)
    for kind in PARAM_TYPES.values():
        assert metadata.tables[kind.table.name] is kind.table
        assert [c.name for c in kind.table.columns] == ["res_pk", "sp", *kind.columns]
        assert set(kind.sort) <= set(kind.columns)


def test_index_rows_and_written_tables_come_from_the_type_objects() -> None:
    task = {
        "resourceType": "Task",
        "status": "ready",
        "intent": "order",
        "description": "Call back",
        "authoredOn": "2026-11-02T09:00:00Z",
        "owner": {"reference": "PractitionerRole/r1", "identifier": {"system": "urn:staff", "value": "r1"}},
    }
    rows = index_rows(task)
    assert {"token", "date", "reference"} <= set(rows) <= set(PARAM_TYPES)
    for name, kind_rows in rows.items():
        assert all(set(row) == {"sp", *PARAM_TYPES[name].columns} for row in kind_rows)
    written = _index_tuples([Version("Task", "t1", 1, None, "POST", task, res_pk=7)])  # type: ignore[arg-type]
    assert {r.table: r.columns for r in written} == {
        PARAM_TYPES[name].table.name: ("res_pk", "sp", *PARAM_TYPES[name].columns) for name in rows
    }


def test_the_compiler_searches_the_table_of_the_parameters_type() -> None:
    for name, kind in PARAM_TYPES.items():
        param = next(p for p in _registered() if p.type == name and not p.code.startswith("_"))
        value = {"date": "ge2020", "number": "1", "quantity": "1", "reference": "Patient/p"}.get(name, "x")
        query = search_query.parse(param.resource_type, [(param.code, value), ("_sort", param.code)])
        sql = str(sql_search.compile_query(query))
        assert kind.table.name in sql, name
        assert sql_search._sort_key(param.resource_type, param.code, False) is not None


async def test_the_capability_statement_publishes_the_registry_types(client: httpx.AsyncClient) -> None:
    capability = (await client.get("/metadata")).json()
    names = {kind.name for kind in PARAM_TYPES.values()}
    for entry in capability["rest"][0]["resource"]:
        params = registry().params(entry["type"])
        for published in entry["searchParam"]:
            assert published["type"] in names
            if published["name"] in params:
                assert published["type"] == params[published["name"]].kind.name
