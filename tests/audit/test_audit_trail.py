"""Audit records become valid AuditEvents: who, what (references only), when, from where, outcome."""

from __future__ import annotations

import base64

from sqlalchemy.ext.asyncio import AsyncEngine

from fhircrm.audit import AuditRecord, Outcome, record
from fhircrm.audit.install import install
from fhircrm.audit.record import now_instant
from fhircrm.audit.resource import audit_event
from fhircrm.config import Settings
from fhircrm.fhir.store import FhirStore
from fhircrm.fhir.validation import validate
from fhircrm.jobs.runner import JobRunner
from fhircrm.runtime import Runtime
from fhircrm.wiring import Wiring


def read_record(**overrides: object) -> AuditRecord:
    values: dict = {
        "interaction": "read",
        "outcome": Outcome.SUCCESS,
        "recorded": "2026-11-27T09:00:00.000Z",
        "user": "Practitioner/dr-1",
        "client_id": "smart-app",
        "source_ip": "127.0.0.1",
        "resource_type": "Appointment",
        "entities": ("Appointment/a1",),
        "patients": ("Patient/p1",),
        "status": 200,
    }
    return AuditRecord(**{**values, **overrides})


def test_a_read_becomes_a_valid_rest_audit_event_with_references_only() -> None:
    event = audit_event(read_record())
    validate(event)
    assert (event["action"], event["subtype"][0]["code"], event["outcome"]) == ("R", "read", "0")
    assert event["agent"][0]["who"] == {"reference": "Practitioner/dr-1"}
    assert event["agent"][0]["network"] == {"address": "127.0.0.1", "type": "2"}
    assert [e["what"]["reference"] for e in event["entity"]] == ["Appointment/a1", "Patient/p1"]


def test_a_refused_search_records_its_query_and_a_minor_failure() -> None:
    record_ = read_record(
        interaction="search",
        outcome=Outcome.MINOR_FAILURE,
        entities=(),
        patients=(),
        query="patient=Patient/p2",
        status=403,
        description="scope does not allow Patient p2",
    )
    event = audit_event(record_)
    validate(event)
    assert (event["action"], event["outcome"], event["outcomeDesc"]) == ("E", "4", "scope does not allow Patient p2")
    assert base64.b64decode(event["entity"][0]["query"]).decode() == "patient=Patient/p2"


def test_a_search_without_parameters_is_a_valid_query_entity_without_query_text() -> None:
    """``GET /fhir/Patient`` audits a query with no text: the record keeps its details (an empty base64Binary
    was refused, so every such search fell back to an AuditEvent without them)."""
    event = audit_event(read_record(interaction="search", entities=(), patients=(), query=""))
    validate(event)
    assert event["entity"] == [
        {"type": {"system": event["entity"][0]["type"]["system"], "code": "2"}, "description": "Appointment"}
    ]


async def test_queued_records_are_written_as_audit_events_in_one_batch(clean_engine: AsyncEngine) -> None:
    async with clean_engine.begin() as conn:
        for n in range(30):
            await record(conn, read_record(entities=(f"Appointment/a{n}",), recorded=now_instant()))
    wiring = Wiring()
    install(wiring, Runtime(Settings(environment="test"), clean_engine, None))  # type: ignore[arg-type]  (no HTTP)
    assert await JobRunner(clean_engine, wiring.jobs).drain() == 30
    async with clean_engine.connect() as conn:
        result = await FhirStore(conn).search("AuditEvent", [("entity", "Appointment/a7"), ("_total", "accurate")])
        everything = await FhirStore(conn).search("AuditEvent", [("_summary", "count")])
    assert result.total == 1
    assert everything.total == 30
