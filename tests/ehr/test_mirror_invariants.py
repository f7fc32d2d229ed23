"""The EHR is the source of truth for what it sends: an Appointment SEKMET holds with a start and no end (R4 app-2,
app-3) is mirrored as it is, its later changes too, while the same resource written by a client of fhircrm is
refused (``fhircrm.fhir.invariants``). fhircrm's own update of such a copy is refused only for an invariant it
newly breaks."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.fixtures.api import FHIR_JSON
from tests.fixtures.sekmet import crm_settings, domain_events, ehr_post, ehr_put
from tests.fixtures.servers import RunningServer
from tests.fixtures.stores import TESTS

from fhircrm.app import create_app
from fhircrm.config import Settings
from fhircrm.errors import Unprocessable
from fhircrm.jobs.periodic import run_periodic
from fhircrm.runtime import Runtime
from fhircrm.stores import open_store
from fhircrm.worker import build_wiring

pytestmark = pytest.mark.slow


async def poll(engine: AsyncEngine, settings: Settings) -> None:
    async with httpx.AsyncClient() as http:
        [task] = [p for p in build_wiring(Runtime(settings, engine, http)).periodic if p.name == "ehr-poll"]
        assert await run_periodic(engine, task)


async def test_the_ehrs_appointment_without_an_end_is_mirrored_as_it_is(
    shared_ehr: RunningServer, clean_engine: AsyncEngine, database_url: str
) -> None:
    settings = crm_settings(database_url, ehr_base_url=shared_ehr.base_url, ehr_poll_seconds=60, ehr_max_retries=0)
    patient = await ehr_post(shared_ehr, {"resourceType": "Patient", "name": [{"family": "Openended"}]})
    booked = await ehr_post(
        shared_ehr,
        {
            "resourceType": "Appointment",
            "status": "booked",
            "start": "2030-01-02T09:00:00Z",
            "participant": [{"actor": {"reference": f"Patient/{patient['id']}"}, "status": "accepted"}],
        },
    )
    await poll(clean_engine, settings)
    async with clean_engine.connect() as conn:
        mirrored = (await open_store(conn, settings, policy=TESTS).read("Appointment", booked["id"])).content or {}
    assert mirrored["start"] == "2030-01-02T09:00:00Z" and "end" not in mirrored
    subject = f"Appointment/{booked['id']}"
    assert len(await domain_events(clean_engine, "AppointmentBooked", subject)) == 1

    await ehr_put(shared_ehr, {**booked, "status": "cancelled"})  # a change on the EHR is mirrored too
    await poll(clean_engine, settings)
    assert len(await domain_events(clean_engine, "AppointmentCancelled", subject)) == 1

    app = create_app(settings, migrate=False)
    app.state.engine = clean_engine
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver/fhir") as client:
        headers = {"Content-Type": FHIR_JSON}
        copy = {k: v for k, v in booked.items() if k not in ("id", "meta")}
        refused = await client.post("/Appointment", json=copy, headers=headers)
        assert refused.status_code == 422 and "(app-2)" in refused.text

    async with clean_engine.begin() as conn:  # fhircrm changing the copy keeps what the EHR sent
        store = open_store(conn, settings, policy=TESTS)
        current = (await store.read("Appointment", booked["id"])).content or {}
        await store.update("Appointment", booked["id"], {**current, "comment": "called the patient"})
        with pytest.raises(Unprocessable) as refused_change:
            await store.update(
                "Appointment",
                booked["id"],
                {**current, "status": "booked", "cancelationReason": {"text": "clinic closed"}},
            )
        found = {issue.diagnostics.rsplit(" ", 1)[-1] for issue in refused_change.value.issues}
        assert found == {"(app-3)", "(app-4)"}  # app-2, which the EHR's copy already broke, is not held against it
