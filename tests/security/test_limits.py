"""Limits that keep one request from taking the server down: body size on every route, bundle entries, _count,
_include:iterate over cycles, and PostgreSQL's statement timeout (503, not a hang)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.fixtures.stores import TESTS

from fhircrm.deps import StoreDep
from fhircrm.stores import open_store

LIMIT = 2000


def _outcome(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return body["issue"][0]


async def _patients(client: httpx.AsyncClient) -> int:
    return (await client.get("/Patient", params={"_summary": "count"})).json()["total"]


@pytest.fixture
def limited(app: FastAPI) -> FastAPI:
    app.state.settings = app.state.settings.model_copy(update={"max_request_bytes": LIMIT})
    return app


async def _chunks(size: int) -> AsyncIterator[bytes]:
    yield b'{"resourceType": "Patient", "name": [{"family": "'
    for _ in range(size // 500):
        yield b"x" * 500
    yield b'"}]}'


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/fhir/Patient"),
        ("POST", "/fhir"),
        ("POST", "/api/segments"),
        ("POST", "/api/complaints"),
        ("POST", "/channels/twilio/messages"),
        ("POST", "/survey/any-token"),
        ("POST", "/fhir/metadata"),  # a route that never reads a body
    ],
)
async def test_a_declared_body_over_the_limit_is_refused_with_413_on_every_route(
    limited: FastAPI, client: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await client.request(method, f"http://testserver{path}", content=b"{" + b" " * LIMIT + b"}")
    issue = _outcome(response, 413)
    assert issue["code"] == "too-costly"
    assert await _patients(client) == 0


async def test_a_streamed_body_over_the_limit_is_refused_with_413_and_stores_nothing(
    limited: FastAPI, client: httpx.AsyncClient
) -> None:
    response = await client.post("/Patient", content=_chunks(LIMIT * 2))  # chunked: no Content-Length
    _outcome(response, 413)
    assert await _patients(client) == 0


async def test_a_streamed_body_under_the_limit_is_accepted(limited: FastAPI, client: httpx.AsyncClient) -> None:
    response = await client.post("/Patient", content=_chunks(LIMIT // 2))
    assert response.status_code == 201, response.text


async def test_count_above_the_cap_returns_at_most_the_cap(app: FastAPI, client: httpx.AsyncClient) -> None:
    app.state.settings = app.state.settings.model_copy(update={"max_page_size": 3})
    for i in range(5):
        await client.post("/Patient", json={"resourceType": "Patient", "name": [{"family": f"Cap{i}"}]})
    page = (await client.get("/Patient", params={"_count": "1000"})).json()
    assert len(page["entry"]) == 3
    assert any(link["relation"] == "next" for link in page["link"])


def _linked(pid: str, other: str) -> dict:
    return {
        "resourceType": "Patient",
        "id": pid,
        "link": [{"other": {"reference": f"Patient/{other}"}, "type": "seealso"}],
    }


async def test_include_iterate_over_a_cycle_terminates_and_returns_each_resource_once(
    client: httpx.AsyncClient,
) -> None:
    for pid, other in (("a", "b"), ("b", "c"), ("c", "a")):
        assert (await client.put(f"/Patient/{pid}", json=_linked(pid, other))).status_code in (200, 201)
    bundle = (await client.get("/Patient", params={"_id": "a", "_include:iterate": "Patient:link"})).json()
    ids = [e["resource"]["id"] for e in bundle["entry"]]
    assert sorted(ids) == ["a", "b", "c"]
    assert [e["search"]["mode"] for e in bundle["entry"] if e["resource"]["id"] != "a"] == ["include", "include"]


async def test_include_iterate_results_are_capped(app: FastAPI, client: httpx.AsyncClient) -> None:
    app.state.settings = app.state.settings.model_copy(update={"max_include_results": 2})
    chain = [f"n{i}" for i in range(6)]
    for pid, other in zip(chain, [*chain[1:], chain[0]], strict=True):
        await client.put(f"/Patient/{pid}", json=_linked(pid, other))
    bundle = (await client.get("/Patient", params={"_id": "n0", "_include:iterate": "Patient:link"})).json()
    included = [e for e in bundle["entry"] if e["search"]["mode"] == "include"]
    assert len(included) == 2


@pytest.fixture
def probe(app: FastAPI, clean_engine: AsyncEngine) -> FastAPI:
    """Two diagnostic routes on the API's own request store (the StoreDep every API route uses)."""
    if clean_engine.dialect.name != "postgresql":
        pytest.skip("statement_timeout is PostgreSQL's; the embedded SQLite store runs one writer in process")

    @app.get("/probe/statement-timeout")
    async def show(store: StoreDep) -> dict:
        return {"timeout": (await store.conn.exec_driver_sql("SHOW statement_timeout")).scalar()}

    @app.get("/probe/slow")
    async def slow(store: StoreDep) -> dict:
        await store.conn.exec_driver_sql("SELECT pg_sleep(5)")
        return {"slept": True}

    app.router.routes.insert(0, app.router.routes.pop())  # before the /fhir catch-alls (not under /fhir anyway)
    app.router.routes.insert(0, app.router.routes.pop())
    return app


async def test_every_api_request_runs_under_the_configured_statement_timeout(probe: FastAPI, client) -> None:
    probe.state.settings = probe.state.settings.model_copy(update={"statement_timeout_ms": 1234})
    response = await client.get("http://testserver/probe/statement-timeout")
    assert response.json() == {"timeout": "1234ms"}


async def test_a_query_slower_than_the_timeout_is_cancelled_with_a_503_outcome(
    probe: FastAPI, client: httpx.AsyncClient, clean_engine: AsyncEngine
) -> None:
    probe.state.settings = probe.state.settings.model_copy(update={"statement_timeout_ms": 100})
    response = await client.get("http://testserver/probe/slow")
    issue = _outcome(response, 503)
    assert issue["code"] == "transient"
    async with clean_engine.connect() as conn:  # the connection went back to the pool usable, without the timeout
        assert (await conn.exec_driver_sql("SHOW statement_timeout")).scalar() == "0"
        assert (await open_store(conn, policy=TESTS).search("Patient", [])).matches == []
