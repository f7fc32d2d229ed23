"""Write-back to an EHR that checks referential integrity, as HAPI does by default (tests/fixtures/hapi_like.py):
references to what only fhircrm has go as logical references, so the EHR takes the write; references to the
EHR's own resources stay literal."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.fixtures.hapi_like import HapiLikeServer
from tests.fixtures.sekmet import crm_settings, job_rows
from tests.fixtures.stores import TESTS

from fhircrm.config import Settings
from fhircrm.ehr.mirror import mirror
from fhircrm.ehr.writeback import CRM_IDENTIFIER_SYSTEM
from fhircrm.jobs.periodic import run_periodic
from fhircrm.jobs.runner import JobRunner
from fhircrm.runtime import Runtime
from fhircrm.stores import open_store
from fhircrm.worker import build_wiring

TYPES = ["CommunicationRequest", "Communication"]


@pytest.fixture
async def crm(clean_engine: AsyncEngine, database_url: str, hapi_like: HapiLikeServer) -> AsyncIterator[Settings]:
    yield crm_settings(database_url, ehr_base_url=hapi_like.base_url, ehr_writeback_types=TYPES, ehr_max_retries=0)


async def _sweep_and_run(engine: AsyncEngine, settings: Settings) -> None:
    async with httpx.AsyncClient() as http:
        wiring = build_wiring(Runtime(settings, engine, http))
        [sweep] = [p for p in wiring.periodic if p.name == "ehr-writeback-sweep"]
        assert await run_periodic(engine, sweep)
        await JobRunner(engine, wiring.jobs).drain()


async def test_a_communication_based_on_our_request_is_written_to_an_integrity_checking_ehr(
    clean_engine: AsyncEngine, crm: Settings, hapi_like: HapiLikeServer
) -> None:
    async with httpx.AsyncClient() as http:
        created = await http.post(f"{hapi_like.base_url}/Patient", json={"resourceType": "Patient"})
    ehr_patient = created.json()
    async with clean_engine.begin() as conn:
        store = open_store(conn, crm, policy=TESTS)
        await mirror(store, ehr_patient, ehr_base=hapi_like.base_url, system=crm.ehr_identifier_system)
        ours_only = (await store.create({"resourceType": "Patient", "name": [{"family": "Walk-in"}]})).content
        request = (
            await store.create(
                {
                    "resourceType": "CommunicationRequest",
                    "status": "active",
                    "subject": {"reference": f"Patient/{ehr_patient['id']}"},
                }
            )
        ).content
        sent = (
            await store.create(
                {
                    "resourceType": "Communication",
                    "status": "completed",
                    "basedOn": [{"reference": f"CommunicationRequest/{request['id']}"}],
                    "subject": {"reference": f"Patient/{ehr_patient['id']}"},
                    "recipient": [{"reference": f"Patient/{ours_only['id']}", "display": "Walk-in"}],
                    "payload": [{"contentString": "See you Tuesday"}],
                }
            )
        ).content

    await _sweep_and_run(clean_engine, crm)

    assert [r.status for r in await job_rows(clean_engine, "ehr-writeback")] == ["done", "done"]
    [communication] = [r for (t, _), r in hapi_like.app.resources.items() if t == "Communication"]
    assert communication["basedOn"] == [
        {"type": "CommunicationRequest", "identifier": {"system": CRM_IDENTIFIER_SYSTEM, "value": request["id"]}}
    ]
    assert communication["subject"] == {"reference": f"Patient/{ehr_patient['id']}"}  # the EHR's own, literal
    assert communication["recipient"] == [
        {
            "display": "Walk-in",
            "type": "Patient",
            "identifier": {"system": CRM_IDENTIFIER_SYSTEM, "value": ours_only["id"]},
        }
    ]
    assert {"system": CRM_IDENTIFIER_SYSTEM, "value": sent["id"]} in communication["identifier"]
    [written_request] = [r for (t, _), r in hapi_like.app.resources.items() if t == "CommunicationRequest"]
    assert {"system": CRM_IDENTIFIER_SYSTEM, "value": request["id"]} in written_request["identifier"]


async def test_the_integrity_checking_ehr_refuses_a_literal_reference_to_what_it_does_not_have(
    hapi_like: HapiLikeServer,
) -> None:
    """What HAPI answers the write-back without the logical references (the reason for them)."""
    body = {
        "resourceType": "Communication",
        "status": "completed",
        "basedOn": [{"reference": "CommunicationRequest/x1"}],
    }
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{hapi_like.base_url}/Communication", json=body)
    assert response.status_code == 400
    assert response.json()["issue"][0]["diagnostics"] == (
        "HAPI-1094: Resource CommunicationRequest/x1 not found, specified in path: Communication.basedOn"
    )
