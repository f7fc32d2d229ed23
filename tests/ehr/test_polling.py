"""The polling fallback against a real SEKMET: the scheduled ``ehr-poll`` task mirrors what was created and
changed on the EHR, resumes from its saved cursor, and loses nothing when the EHR is down for a round."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.fixtures.sekmet import crm_settings, domain_events, ehr_post, ehr_put
from tests.fixtures.servers import RunningServer, free_port
from tests.fixtures.stores import TESTS

from fhircrm.config import Settings
from fhircrm.ehr.client import FhirpyEhrClient
from fhircrm.ehr.cursors import get_cursor
from fhircrm.ehr.polling import sync_type
from fhircrm.errors import NotFound
from fhircrm.jobs.periodic import run_periodic
from fhircrm.runtime import Runtime
from fhircrm.stores import open_store
from fhircrm.worker import build_wiring

pytestmark = pytest.mark.slow


def poll_settings(database_url: str, ehr_base_url: str) -> Settings:
    return crm_settings(database_url, ehr_base_url=ehr_base_url, ehr_poll_seconds=60, ehr_max_retries=0)


async def poll(engine: AsyncEngine, settings: Settings) -> None:
    """One round of the worker's scheduled ``ehr-poll`` task, as a fresh worker process would run it."""
    async with httpx.AsyncClient() as http:
        [task] = [p for p in build_wiring(Runtime(settings, engine, http)).periodic if p.name == "ehr-poll"]
        assert await run_periodic(engine, task)


async def local(engine: AsyncEngine, settings: Settings, resource_type: str, fhir_id: str) -> dict | None:
    async with engine.connect() as conn:
        try:
            return (await open_store(conn, settings, policy=TESTS).read(resource_type, fhir_id)).content
        except NotFound:
            return None


@pytest.fixture
async def polled(
    shared_ehr: RunningServer, clean_engine: AsyncEngine, database_url: str
) -> AsyncIterator[tuple[RunningServer, AsyncEngine, Settings]]:
    yield shared_ehr, clean_engine, poll_settings(database_url, shared_ehr.base_url)


async def _book(ehr: RunningServer) -> dict:
    patient = await ehr_post(ehr, {"resourceType": "Patient", "name": [{"family": "Poll"}]})
    return await ehr_post(
        ehr,
        {
            "resourceType": "Appointment",
            "status": "booked",
            "start": "2030-01-02T09:00:00Z",
            "end": "2030-01-02T09:20:00Z",
            "participant": [{"actor": {"reference": f"Patient/{patient['id']}"}, "status": "accepted"}],
        },
    )


async def test_a_poll_mirrors_what_was_created_on_the_ehr(polled: tuple) -> None:
    ehr, engine, settings = polled
    booked = await _book(ehr)
    await poll(engine, settings)
    mirrored = await local(engine, settings, "Appointment", booked["id"])
    assert mirrored is not None and mirrored["status"] == "booked"
    assert await local(engine, settings, *booked["participant"][0]["actor"]["reference"].split("/")) is not None
    assert len(await domain_events(engine, "AppointmentBooked", f"Appointment/{booked['id']}")) == 1


async def test_a_poll_mirrors_a_change_made_on_the_ehr_since_the_last_one(polled: tuple) -> None:
    ehr, engine, settings = polled
    booked = await _book(ehr)
    await poll(engine, settings)
    await ehr_put(ehr, {**booked, "status": "cancelled"})
    await poll(engine, settings)
    assert (await local(engine, settings, "Appointment", booked["id"]) or {})["status"] == "cancelled"
    assert len(await domain_events(engine, "AppointmentCancelled", f"Appointment/{booked['id']}")) == 1


async def test_a_resumed_poll_fetches_only_what_changed_after_its_saved_cursor(polled: tuple) -> None:
    ehr, engine, settings = polled
    for _ in range(3):
        await _book(ehr)
    await poll(engine, settings)  # a first worker, then it stops
    async with engine.connect() as conn:
        cursor = await get_cursor(conn, "poll:Appointment")
    assert cursor is not None
    newest = await _book(ehr)
    async with engine.begin() as conn:  # a new worker: the cursor is all it knows
        synced = await sync_type(conn, FhirpyEhrClient(ehr.base_url), settings, "Appointment")
        assert await get_cursor(conn, "poll:Appointment") == newest["meta"]["lastUpdated"]
    # the newest one, and the last one of the first round again (``ge`` the cursor): written once
    assert (synced.fetched, synced.written) == (2, 1)


async def test_a_poll_while_the_ehr_is_down_loses_nothing(polled: tuple) -> None:
    ehr, engine, settings = polled
    await _book(ehr)
    await poll(engine, settings)
    missed = await _book(ehr)
    down = settings.model_copy(update={"ehr_base_url": f"http://127.0.0.1:{free_port()}/fhir"})
    await poll(engine, down)  # the round ends quietly; no cursor moves
    assert await local(engine, settings, "Appointment", missed["id"]) is None
    await poll(engine, settings)  # the EHR is reachable again
    assert (await local(engine, settings, "Appointment", missed["id"]) or {}).get("status") == "booked"
