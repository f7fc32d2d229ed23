"""Write-back of CRM resources to the EHR: per-type switch, idempotent conditional create on our identifier
(against a real SEKMET), retries while the EHR refuses, and a patient's objection to data sharing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.fixtures.sekmet import MisbehavingServer, crm_settings, job_rows
from tests.fixtures.servers import RunningServer
from tests.fixtures.stores import TESTS

from fhircrm.config import Settings
from fhircrm.ehr.client import FhirpyEhrClient
from fhircrm.ehr.install import ehr_client
from fhircrm.ehr.objections import CONSENT_ACTION
from fhircrm.ehr.writeback import CRM_IDENTIFIER_SYSTEM, WRITEBACK_JOB, write_back
from fhircrm.jobs import Job
from fhircrm.jobs.periodic import run_periodic
from fhircrm.jobs.queue import utcnow
from fhircrm.jobs.runner import JobRunner
from fhircrm.jobs.tables import job
from fhircrm.runtime import Runtime
from fhircrm.stores import open_store
from fhircrm.worker import build_wiring


@dataclass
class Crm:
    settings: Settings
    engine: AsyncEngine
    runtime: Runtime

    async def create(self, resource: dict) -> dict:
        async with self.engine.begin() as conn:
            return (await open_store(conn, self.settings, policy=TESTS).create(resource)).content

    async def update(self, resource: dict) -> None:
        async with self.engine.begin() as conn:
            await open_store(conn, self.settings, policy=TESTS).update(
                resource["resourceType"], resource["id"], resource
            )

    async def sweep_and_run(self) -> None:
        """The scheduled sweep, then every job that is due."""
        wiring = build_wiring(self.runtime)
        [sweep] = [p for p in wiring.periodic if p.name == "ehr-writeback-sweep"]
        assert await run_periodic(self.engine, sweep)
        await JobRunner(self.engine, wiring.jobs).drain()

    async def run_retries(self) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(sa.update(job).where(job.c.status == "pending").values(run_at=utcnow()))
        await JobRunner(self.engine, build_wiring(self.runtime).jobs).drain()


async def _crm(engine: AsyncEngine, url: str, ehr_base_url: str, types: list[str]) -> AsyncIterator[Crm]:
    settings = crm_settings(url, ehr_base_url=ehr_base_url, ehr_writeback_types=types, ehr_max_retries=0)
    async with httpx.AsyncClient() as http:
        yield Crm(settings, engine, Runtime(settings, engine, http))


def communication(patient: str = "Patient/p1", text: str = "Your results are ready") -> dict:
    return {
        "resourceType": "Communication",
        "status": "completed",
        "subject": {"reference": patient},
        "payload": [{"contentString": text}],
    }


def objection(patient: str) -> dict:
    return {
        "resourceType": "Consent",
        "status": "active",
        "scope": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": patient},
        "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTOUT"}]},
        "provision": {"type": "deny", "action": [{"coding": [{"system": CONSENT_ACTION, "code": "disclose"}]}]},
    }


@pytest.fixture
async def loopback_crm(
    clean_engine: AsyncEngine, database_url: str, misbehaving_ehr: MisbehavingServer
) -> AsyncIterator[tuple[Crm, MisbehavingServer]]:
    async for crm in _crm(clean_engine, database_url, misbehaving_ehr.base_url, ["Communication", "Consent"]):
        yield crm, misbehaving_ehr


async def test_only_the_switched_on_types_are_queued_for_write_back(
    clean_engine: AsyncEngine, database_url: str
) -> None:
    async for crm in _crm(clean_engine, database_url, "http://ehr.example.test/fhir", ["Task"]):
        await crm.create(communication())
        task = await crm.create({"resourceType": "Task", "status": "requested", "intent": "order"})
        [sweep] = [p for p in build_wiring(crm.runtime).periodic if p.name == "ehr-writeback-sweep"]
        await run_periodic(crm.engine, sweep)
        assert [r.payload for r in await job_rows(crm.engine, WRITEBACK_JOB)] == [{"type": "Task", "id": task["id"]}]


async def test_a_refusing_ehr_is_retried_until_it_recovers(loopback_crm: tuple[Crm, MisbehavingServer]) -> None:
    crm, ehr = loopback_crm
    ehr.app.answer("Communication", (503, {"Retry-After": "1"}, 0), (503, {}, 0))
    ehr.app.resources["Communication"] = {"resourceType": "Communication", "id": "e1", "status": "completed"}
    await crm.create(communication())
    await crm.sweep_and_run()
    [row] = await job_rows(crm.engine, WRITEBACK_JOB)
    assert (row.status, row.attempts) == ("pending", 1)
    await crm.run_retries()  # still refused
    await crm.run_retries()  # recovered
    [row] = await job_rows(crm.engine, WRITEBACK_JOB)
    assert (row.status, [p for p, _ in ehr.app.seen]) == ("done", ["Communication"] * 3)


async def test_engagement_data_of_a_patient_objecting_to_sharing_is_not_written_back(
    loopback_crm: tuple[Crm, MisbehavingServer],
) -> None:
    crm, ehr = loopback_crm
    ehr.app.resources["Communication"] = {"resourceType": "Communication", "id": "e1", "status": "completed"}
    ehr.app.resources["Consent"] = {"resourceType": "Consent", "id": "e2", "status": "active"}
    await crm.create(objection("Patient/p1"))
    await crm.create(communication("Patient/p1"))
    await crm.create(communication("Patient/p2"))
    await crm.sweep_and_run()
    assert {r.status for r in await job_rows(crm.engine, WRITEBACK_JOB)} == {"done"}
    assert sorted(p for p, _ in ehr.app.seen) == ["Communication", "Consent"]  # p2's message, and the objection


async def test_a_withdrawn_objection_no_longer_hides_engagement_data(
    loopback_crm: tuple[Crm, MisbehavingServer],
) -> None:
    crm, ehr = loopback_crm
    ehr.app.resources["Communication"] = {"resourceType": "Communication", "id": "e1", "status": "completed"}
    consent = await crm.create({**objection("Patient/p1"), "status": "inactive"})
    await crm.create(communication("Patient/p1"))
    await crm.sweep_and_run()
    assert consent["status"] == "inactive"
    assert [p for p, _ in ehr.app.seen if p == "Communication"] == ["Communication"]


async def _ehr_copies(ehr: RunningServer, local_id: str) -> list[dict]:
    found = await FhirpyEhrClient(ehr.base_url).search(
        "Communication", [("identifier", f"{CRM_IDENTIFIER_SYSTEM}|{local_id}")]
    )
    return found


@pytest.mark.slow
async def test_writing_back_twice_makes_one_resource_on_the_ehr(
    shared_ehr: RunningServer, clean_engine: AsyncEngine, database_url: str
) -> None:
    async for crm in _crm(clean_engine, database_url, shared_ehr.base_url, ["Communication"]):
        local = await crm.create(communication())
        await crm.sweep_and_run()
        [row] = await job_rows(crm.engine, WRITEBACK_JOB)
        again = Job(row.id, row.kind, row.payload, row.attempts + 1, row.dedupe_key)
        async with crm.engine.begin() as conn:  # the same job again, as after a crash before its commit
            await write_back(conn, again, client=ehr_client(crm.runtime), settings=crm.settings)
        [copy] = await _ehr_copies(shared_ehr, local["id"])
        assert copy["payload"] == local["payload"]


@pytest.mark.slow
async def test_a_later_version_updates_the_ehrs_copy_in_place(
    shared_ehr: RunningServer, clean_engine: AsyncEngine, database_url: str
) -> None:
    async for crm in _crm(clean_engine, database_url, shared_ehr.base_url, ["Communication"]):
        local = await crm.create(communication())
        await crm.sweep_and_run()
        await crm.update({**local, "payload": [{"contentString": "Please call us"}]})
        await crm.sweep_and_run()
        [copy] = await _ehr_copies(shared_ehr, local["id"])
        assert copy["payload"] == [{"contentString": "Please call us"}]
