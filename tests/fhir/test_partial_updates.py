"""Updates that change a few elements: only those are validated and only the parameters that read them are
re-indexed (``fhir.diff``). Checked through the REST API, on PostgreSQL and SQLite: the searches must answer as
if the whole resource had been indexed again, and bad input must still be refused with the element named."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from fhircrm.fhir.search.extract import index_rows
from fhircrm.fhir.search.param_types import PARAM_TYPES
from fhircrm.fhir.sql.tables import resource

INDEX_TABLES = {name: kind.table for name, kind in PARAM_TYPES.items()}

TASK = {
    "resourceType": "Task",
    "status": "requested",
    "intent": "order",
    "priority": "routine",
    "for": {"reference": "Patient/p1"},
    "owner": {"reference": "PractitionerRole/r1"},
    "authoredOn": "2026-11-02T09:00:00Z",
    "code": {"coding": [{"system": "urn:test", "code": "call"}]},
}


async def _ids(client: httpx.AsyncClient, query: str) -> set[str]:
    bundle = (await client.get(f"/Task?{query}")).json()
    return {entry["resource"]["id"] for entry in bundle.get("entry", [])}


async def _stored_rows(engine: AsyncEngine, fhir_id: str) -> dict[str, set[tuple]]:
    """The index rows stored for a Task, by table, without their surrogate key."""
    async with engine.connect() as conn:
        pk = (
            await conn.execute(resource.select().with_only_columns(resource.c.id).where(resource.c.fhir_id == fhir_id))
        ).scalar_one()
        out = {}
        for kind, table in INDEX_TABLES.items():
            rows = await conn.execute(table.select().where(table.c.res_pk == pk))
            out[kind] = {tuple(v for k, v in row._mapping.items() if k != "res_pk") for row in rows}
        return out


def _expected_rows(content: dict) -> dict[str, set[tuple]]:
    out: dict[str, set[tuple]] = {kind: set() for kind in INDEX_TABLES}
    for kind, rows in index_rows(content).items():
        names = [c.name for c in INDEX_TABLES[kind].columns if c.name != "res_pk"]
        out[kind] = {tuple(row.get(n) for n in names) for row in rows}
    return out


async def test_a_status_change_reindexes_status_and_keeps_the_other_parameters(
    client: httpx.AsyncClient, clean_engine: AsyncEngine
) -> None:
    created = (await client.post("/Task", json=TASK)).json()
    done = {**created, "status": "completed"}
    assert (await client.put(f"/Task/{created['id']}", json=done)).status_code == 200

    assert await _ids(client, "status=completed") == {created["id"]}
    assert await _ids(client, "status=requested") == set()
    assert await _ids(client, "owner=PractitionerRole/r1&code=urn:test|call") == {created["id"]}
    stored = (await client.get(f"/Task/{created['id']}")).json()
    assert await _stored_rows(clean_engine, created["id"]) == _expected_rows(stored)


async def test_changing_a_reference_moves_it_in_the_index(client: httpx.AsyncClient, clean_engine: AsyncEngine) -> None:
    created = (await client.post("/Task", json=TASK)).json()
    moved = {**created, "owner": {"reference": "PractitionerRole/r2"}, "priority": "urgent"}
    assert (await client.put(f"/Task/{created['id']}", json=moved)).status_code == 200

    assert await _ids(client, "owner=PractitionerRole/r2&priority=urgent") == {created["id"]}
    assert await _ids(client, "owner=PractitionerRole/r1") == set()
    stored = (await client.get(f"/Task/{created['id']}")).json()
    assert await _stored_rows(clean_engine, created["id"]) == _expected_rows(stored)


async def test_removing_an_element_removes_its_index_rows(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Task", json=TASK)).json()
    unowned = {k: v for k, v in created.items() if k != "owner"}
    assert (await client.put(f"/Task/{created['id']}", json=unowned)).status_code == 200
    assert await _ids(client, "owner:missing=true") == {created["id"]}


async def test_an_invalid_changed_element_is_refused_naming_it_and_changes_nothing(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Task", json=TASK)).json()
    bad = {**created, "authoredOn": "yesterday"}
    response = await client.put(f"/Task/{created['id']}", json=bad)
    assert response.status_code == 422
    issue = response.json()["issue"][0]
    assert issue["expression"] == ["Task.authoredOn"]
    assert (await client.get(f"/Task/{created['id']}")).json()["meta"]["versionId"] == "1"


async def test_removing_a_required_element_is_refused(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Task", json=TASK)).json()
    no_intent = {k: v for k, v in created.items() if k != "intent"}
    response = await client.put(f"/Task/{created['id']}", json=no_intent)
    assert response.status_code == 422
    assert "intent" in response.text


async def test_a_second_choice_value_is_refused(client: httpx.AsyncClient) -> None:
    """``deceased[x]`` holds one type: adding ``deceasedDateTime`` beside ``deceasedBoolean`` is caught because a
    change to a choice validates the whole resource."""
    patient = {"resourceType": "Patient", "deceasedBoolean": False, "name": [{"family": "Mensah"}]}
    created = (await client.post("/Patient", json=patient)).json()
    both = {**created, "deceasedDateTime": "2026-11-01"}
    response = await client.put(f"/Patient/{created['id']}", json=both)
    assert response.status_code == 422
    assert (await client.get(f"/Patient/{created['id']}")).json()["meta"]["versionId"] == "1"


async def test_a_patch_of_one_element_reindexes_it(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Task", json=TASK)).json()
    patch = [{"op": "replace", "path": "/status", "value": "in-progress"}]
    response = await client.patch(
        f"/Task/{created['id']}", json=patch, headers={"Content-Type": "application/json-patch+json"}
    )
    assert response.status_code == 200
    assert await _ids(client, "status=in-progress&owner=PractitionerRole/r1") == {created["id"]}


async def test_an_update_after_a_delete_indexes_everything_again(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Task", json=TASK)).json()
    assert (await client.delete(f"/Task/{created['id']}")).status_code in (200, 204)
    assert await _ids(client, "owner=PractitionerRole/r1") == set()
    restored = await client.put(f"/Task/{created['id']}", json={**created, "status": "ready"})
    assert restored.status_code == 201
    assert await _ids(client, "owner=PractitionerRole/r1&status=ready") == {created["id"]}


async def test_a_status_change_keeps_a_required_choice_valid(client: httpx.AsyncClient) -> None:
    """``medication[x]`` is required as a choice: a partial validation must carry it over from the stored
    version, or every status change of a MedicationRequest would be refused."""
    order = {
        "resourceType": "MedicationRequest",
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/p1"},
        "medicationCodeableConcept": {"text": "metformin 500 mg"},
    }
    created = (await client.post("/MedicationRequest", json=order)).json()
    stopped = await client.put(f"/MedicationRequest/{created['id']}", json={**created, "status": "stopped"})
    assert stopped.status_code == 200, stopped.text
    without = {k: v for k, v in created.items() if k != "medicationCodeableConcept"}
    refused = await client.put(f"/MedicationRequest/{created['id']}", json=without)
    assert refused.status_code == 422
