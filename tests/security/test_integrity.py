"""Integrity under concurrency and in transactions (issue #13): conditional creates and updates racing on one
identifier make one resource, on a real uvicorn server over PostgreSQL and SQLite; a transaction with two entries
of one fullUrl or a ``urn:uuid:`` reference to no entry is refused whole."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.fixtures import factories
from tests.fixtures.servers import RunningServer, fhircrm_server

FHIR_JSON = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
RACERS = 20


@pytest.fixture(params=["postgresql", "sqlite"])
def racing_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningServer]:
    """A real fhircrm server (uvicorn on loopback) on a fresh database of either kind."""
    if request.param == "postgresql":
        database_url = request.getfixturevalue("pg_database_url")
    else:
        database_url = f"sqlite+aiosqlite:///{tmp_path / 'race.sqlite3'}"
    with fhircrm_server(database_url) as server:
        yield server


def patient(identifier: str) -> dict:
    return factories.patient(identifier=[("urn:test:mrn", identifier)], family="Racer", given=())


async def _race(send) -> list[httpx.Response]:  # type: ignore[no-untyped-def]
    """``RACERS`` requests started together on their own connections (so they really overlap on the server)."""
    start = asyncio.Event()
    limits = httpx.Limits(max_connections=RACERS, max_keepalive_connections=0)
    async with httpx.AsyncClient(headers=FHIR_JSON, timeout=60, limits=limits) as client:

        async def one() -> httpx.Response:
            await start.wait()
            return await send(client)

        tasks = [asyncio.create_task(one()) for _ in range(RACERS)]
        await asyncio.sleep(0.05)
        start.set()
        return await asyncio.gather(*tasks)


def _stored(server: RunningServer, identifier: str) -> list[str]:
    found = httpx.get(
        f"{server.base_url}/Patient",
        params={"identifier": f"urn:test:mrn|{identifier}"},
        headers=FHIR_JSON,
    )
    assert found.status_code == 200, found.text
    return [e["resource"]["id"] for e in found.json().get("entry", [])]


def _one_created_the_rest_found_it(answers: list[httpx.Response], created: int = 201) -> str:
    statuses = Counter(a.status_code for a in answers)
    assert statuses == {created: 1, 200: RACERS - 1}, statuses
    ids = {a.json()["id"] for a in answers}
    assert len(ids) == 1, ids
    return ids.pop()


async def test_twenty_concurrent_conditional_creates_make_one_resource(racing_server: RunningServer) -> None:
    identifier = uuid.uuid4().hex
    url = f"{racing_server.base_url}/Patient"
    header = {"If-None-Exist": f"identifier=urn:test:mrn|{identifier}"}
    answers = await _race(lambda client: client.post(url, json=patient(identifier), headers=header))
    the_id = _one_created_the_rest_found_it(answers)
    assert _stored(racing_server, identifier) == [the_id]


async def test_twenty_concurrent_conditional_updates_that_create_make_one_resource(
    racing_server: RunningServer,
) -> None:
    identifier = uuid.uuid4().hex
    url = f"{racing_server.base_url}/Patient"
    criteria = {"identifier": f"urn:test:mrn|{identifier}"}
    answers = await _race(lambda client: client.put(url, params=criteria, json=patient(identifier)))
    statuses = Counter(a.status_code for a in answers)
    assert statuses[201] == 1 and statuses[200] == RACERS - 1, statuses  # one created, the others updated it
    assert len({a.json()["id"] for a in answers}) == 1
    assert len(_stored(racing_server, identifier)) == 1


async def test_concurrent_transactions_with_one_if_none_exist_make_one_resource(racing_server: RunningServer) -> None:
    identifier = uuid.uuid4().hex
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                "resource": patient(identifier),
                "request": {
                    "method": "POST",
                    "url": "Patient",
                    "ifNoneExist": f"identifier=urn:test:mrn|{identifier}",
                },
            }
        ],
    }
    answers = await _race(lambda client: client.post(racing_server.base_url, json=bundle))
    assert {a.status_code for a in answers} == {200}, [a.text for a in answers if a.status_code != 200]
    statuses = Counter(a.json()["entry"][0]["response"]["status"] for a in answers)
    assert statuses == {"201 Created": 1, "200 OK": RACERS - 1}, statuses
    assert len(_stored(racing_server, identifier)) == 1


# --- transactions ----------------------------------------------------------------------------------------------


def _transaction(*entries: dict) -> dict:
    return {"resourceType": "Bundle", "type": "transaction", "entry": list(entries)}


async def _nothing_stored(client: httpx.AsyncClient, *types: str) -> None:
    for resource_type in types:
        found = await client.get(f"/{resource_type}", params={"_summary": "count"})
        assert found.json()["total"] == 0, resource_type


async def test_two_transaction_entries_with_one_full_url_are_refused_naming_it(client: httpx.AsyncClient) -> None:
    full_url = f"urn:uuid:{uuid.uuid4()}"
    answer = await client.post(
        "",
        json=_transaction(
            {"fullUrl": full_url, "resource": patient("a"), "request": {"method": "POST", "url": "Patient"}},
            {"fullUrl": full_url, "resource": patient("b"), "request": {"method": "POST", "url": "Patient"}},
        ),
    )
    assert answer.status_code == 400, answer.text
    issue = answer.json()["issue"][0]
    assert full_url in issue["diagnostics"]
    assert issue["expression"] == ["Bundle.entry[1].fullUrl"]
    await _nothing_stored(client, "Patient")


async def test_a_urn_uuid_reference_to_no_entry_is_refused_naming_the_element(client: httpx.AsyncClient) -> None:
    patient_url, nowhere = f"urn:uuid:{uuid.uuid4()}", f"urn:uuid:{uuid.uuid4()}"
    answer = await client.post(
        "",
        json=_transaction(
            {"fullUrl": patient_url, "resource": patient("c"), "request": {"method": "POST", "url": "Patient"}},
            {
                "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                "resource": {
                    "resourceType": "Communication",
                    "status": "completed",
                    "subject": {"reference": patient_url},
                    "recipient": [{"reference": nowhere}],
                },
                "request": {"method": "POST", "url": "Communication"},
            },
        ),
    )
    assert answer.status_code == 400, answer.text
    issue = answer.json()["issue"][0]
    assert issue["expression"] == ["Bundle.entry[1].resource.recipient[0].reference"]
    assert nowhere in issue["diagnostics"]
    await _nothing_stored(client, "Patient", "Communication")
