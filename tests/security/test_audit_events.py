"""Every read and write through the API leaves an AuditEvent, refused requests too; AuditEvents are append-only."""

from __future__ import annotations

import base64

from sqlalchemy.ext.asyncio import AsyncEngine
from tests.security.conftest import clinic, seed, token

from fhircrm.audit.install import install
from fhircrm.fhir.store import FhirStore
from fhircrm.jobs.runner import JobRunner
from fhircrm.wiring import Wiring


async def audit_events(engine: AsyncEngine) -> list[dict]:
    wiring = Wiring()
    install(wiring, None)  # type: ignore[arg-type]  (the audit job needs no runtime)
    await JobRunner(engine, wiring.jobs).drain()
    async with engine.connect() as conn:
        result = await FhirStore(conn, max_count=1000).search("AuditEvent", [("_count", "1000")])
    return result.matches


def references(event: dict) -> list[str]:
    return [e["what"]["reference"] for e in event.get("entity", []) if "what" in e]


async def test_a_read_is_audited_with_who_what_and_whose_data(api, clean_engine) -> None:
    await seed(clean_engine, *clinic())
    async with api(token("user/*.rs")) as client:
        assert (await client.get("/Appointment/appt-p1")).status_code == 200
    [event] = await audit_events(clean_engine)
    assert (event["action"], event["subtype"][0]["code"], event["outcome"]) == ("R", "read", "0")
    assert event["agent"][0]["who"] == {"reference": "Practitioner/7"}
    assert event["agent"][0]["altId"] == "crm-app"
    assert references(event) == ["Appointment/appt-p1", "Patient/p1"]


async def test_a_write_is_audited_in_the_same_transaction(api, clean_engine) -> None:
    async with api(token("user/*.cruds")) as client:
        created = (await client.post("/Patient", json={"resourceType": "Patient"})).json()
    [event] = await audit_events(clean_engine)
    assert (event["action"], event["outcome"]) == ("C", "0")
    assert references(event) == [f"Patient/{created['id']}"]


async def test_a_refused_read_is_audited_as_a_failure(api, clean_engine) -> None:
    await seed(clean_engine, *clinic())
    async with api(token("patient/*.rs", patient="p1")) as client:
        assert (await client.get("/Appointment/appt-p2")).status_code == 403
    [event] = await audit_events(clean_engine)
    assert (event["action"], event["outcome"], event["outcomeDesc"]) == ("R", "4", "403 forbidden")
    assert references(event) == ["Appointment/appt-p2"]  # what was asked for; nothing of its content


async def test_a_request_without_a_token_is_audited(api, clean_engine) -> None:
    async with api(None) as client:
        assert (await client.get("/Patient", params={"name": "x"})).status_code == 401
    [event] = await audit_events(clean_engine)
    assert event["outcome"] == "4"
    assert base64.b64decode(event["entity"][0]["query"]).decode() == "name=x"


async def test_audit_events_cannot_be_changed_or_deleted_through_the_api(api, clean_engine) -> None:
    async with api(token("user/*.rs")) as client:
        await client.get("/Patient")
    [event] = await audit_events(clean_engine)
    async with api(token("user/*.cruds")) as client:
        changed = await client.put(f"/AuditEvent/{event['id']}", json={**event, "outcome": "0"})
        deleted = await client.delete(f"/AuditEvent/{event['id']}")
    assert changed.status_code == 405
    assert deleted.status_code == 405
