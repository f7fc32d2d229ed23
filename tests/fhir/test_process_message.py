"""FHIR messaging: ``$process-message`` for message Bundles (MessageHeader first), one per supported event, with
a synchronous response message; domain events derived from the writes as for REST; idempotent on the
MessageHeader id; refusals answered with fatal-error and an OperationOutcome, nothing written."""

from __future__ import annotations

import uuid

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.fixtures import factories

from fhircrm.events.bus import EVENT_JOB
from fhircrm.jobs.tables import job

V2 = "http://terminology.hl7.org/CodeSystem/v2-0003"
OURS = "http://fhircrm.org/CodeSystem/message-event"


def message(code: str, *resources: dict, system: str = OURS, header_id: str | None = None, focus: int = 0) -> dict:
    entries = [{"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": r} for r in resources]
    header = {
        "resourceType": "MessageHeader",
        "id": header_id or str(uuid.uuid4()),
        "eventCoding": {"system": system, "code": code},
        "source": {"endpoint": "https://ehr.example.org/adt"},
        "focus": [{"reference": entries[focus]["fullUrl"]}] if entries else [],
    }
    return {"resourceType": "Bundle", "type": "message", "entry": [{"resource": header}, *entries]}


def patient(pid: str = "mp1", **extra: object) -> dict:
    return factories.patient(id=pid, family="Okafor", given=(), **extra)


def encounter(status: str) -> dict:
    return {
        "resourceType": "Encounter",
        "id": "me1",
        "status": status,
        "class": {"code": "IMP"},
        "subject": {"reference": "Patient/mp1"},
    }


def appointment(status: str, start: str = "2026-12-20T09:00:00Z") -> dict:
    return factories.appointment(
        id="ma1", status=status, start=start, end=start.replace("09:00", "09:30"), patient="Patient/mp1"
    )


async def send(client: httpx.AsyncClient, bundle: dict) -> dict:
    response = await client.post("/$process-message", json=bundle)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["resourceType"] == "Bundle" and body["type"] == "message"
    return body


def answer(body: dict) -> dict:
    header = body["entry"][0]["resource"]
    assert header["resourceType"] == "MessageHeader"
    return header


async def derived(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(job.c.payload).where(job.c.kind == EVENT_JOB).order_by(job.c.id))).all()
    return [row.payload["name"] for row in rows]


async def test_patient_registered_updated_and_merged(client: httpx.AsyncClient, clean_engine: AsyncEngine) -> None:
    request = message("A04", patient(), system=V2)
    body = await send(client, request)
    header = answer(body)
    assert header["response"] == {"identifier": request["entry"][0]["resource"]["id"], "code": "ok"}
    assert header["focus"] == [{"reference": "Patient/mp1"}]
    assert header["destination"] == [{"endpoint": "https://ehr.example.org/adt"}]
    assert (await client.get("/Patient/mp1")).json()["name"] == [{"family": "Okafor"}]
    await send(client, message("patient-updated", patient(gender="female")))
    assert (await client.get("/Patient/mp1")).json()["gender"] == "female"
    assert await derived(clean_engine) == ["PatientUpdated"]  # the REST rules: an update, not a create
    merged = message(
        "patient-merged",
        patient("mp2", active=False, link=[{"other": {"reference": "Patient/mp1"}, "type": "replaced-by"}]),
    )
    assert answer(await send(client, merged))["response"]["code"] == "ok"
    assert (await client.get("/Patient/mp2")).json()["link"][0]["type"] == "replaced-by"


async def test_admitted_and_discharged(client: httpx.AsyncClient, clean_engine: AsyncEngine) -> None:
    await send(client, message("A04", patient(), system=V2))
    assert answer(await send(client, message("A01", encounter("in-progress"), system=V2)))["response"]["code"] == "ok"
    assert answer(await send(client, message("patient-discharged", encounter("finished"))))["response"]["code"] == "ok"
    assert (await client.get("/Encounter/me1")).json()["status"] == "finished"
    assert "VisitCompleted" in await derived(clean_engine)


async def test_appointment_booked_rescheduled_cancelled_and_no_show(
    client: httpx.AsyncClient, clean_engine: AsyncEngine
) -> None:
    await send(client, message("patient-registered", patient()))
    steps = [
        ("S12", appointment("booked"), "AppointmentBooked"),
        ("S13", appointment("booked", "2026-12-21T09:00:00Z"), "AppointmentRescheduled"),
        ("S15", appointment("cancelled", "2026-12-21T09:00:00Z"), "AppointmentCancelled"),
    ]
    for code, resource, event in steps:
        assert answer(await send(client, message(code, resource, system=V2)))["response"]["code"] == "ok"
        assert (await derived(clean_engine))[-1] == event
    noshow = {**appointment("noshow"), "id": "ma2"}
    assert answer(await send(client, message("appointment-no-show", noshow)))["response"]["code"] == "ok"
    assert (await derived(clean_engine))[-1] == "AppointmentNoShow"


async def test_order_and_result(client: httpx.AsyncClient, clean_engine: AsyncEngine) -> None:
    await send(client, message("patient-registered", patient()))
    order = {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "3457005"}]}],
        "subject": {"reference": "Patient/mp1"},
    }
    body = await send(client, message("O01", order, system=V2))
    assert answer(body)["response"]["code"] == "ok"
    [focus] = answer(body)["focus"]
    assert focus["reference"].startswith("ServiceRequest/")
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "HbA1c"},
        "subject": {"reference": "Patient/mp1"},
    }
    report = {
        "resourceType": "DiagnosticReport",
        "status": "final",
        "code": {"text": "HbA1c"},
        "subject": {"reference": "Patient/mp1"},
    }
    result = message("R01", report, observation, system=V2)
    report["result"] = [{"reference": result["entry"][2]["fullUrl"]}]  # urn:uuid, resolved like a transaction
    body = await send(client, result)
    assert answer(body)["response"]["code"] == "ok"
    report_ref = next(f["reference"] for f in answer(body)["focus"] if f["reference"].startswith("DiagnosticReport/"))
    stored = (await client.get(f"/{report_ref}")).json()
    assert stored["result"][0]["reference"].startswith("Observation/")
    assert {"ReferralCreated", "ResultFinal"} <= set(await derived(clean_engine))


async def test_the_same_message_twice_is_answered_once(client: httpx.AsyncClient, clean_engine: AsyncEngine) -> None:
    request = message("A04", patient(), system=V2)
    first = await send(client, request)
    second = await send(client, request)
    assert second == first
    history = (await client.get("/Patient/mp1/_history")).json()
    assert [e["resource"]["meta"]["versionId"] for e in history["entry"]] == ["1"]


@pytest.mark.parametrize(
    ("code", "resource", "named"),
    [
        ("appointment-cancelled", appointment("booked"), "Appointment.status"),
        ("patient-admitted", patient(), "MessageHeader.focus"),
        ("patient-merged", patient(), "Patient.link"),
        ("nope", patient(), "MessageHeader.eventCoding"),
        (
            "patient-registered",
            {"resourceType": "Patient", "id": "mp1", "name": "Okafor"},
            "Bundle.entry[1].resource.name",
        ),
    ],
)
async def test_refused_messages_answer_fatal_error_and_write_nothing(
    client: httpx.AsyncClient, clean_engine: AsyncEngine, code: str, resource: dict, named: str
) -> None:
    body = await send(client, message(code, resource))
    header = answer(body)
    assert header["response"]["code"] == "fatal-error"
    outcome = body["entry"][1]["resource"]
    assert header["response"]["details"]["reference"] == body["entry"][1]["fullUrl"]
    assert outcome["resourceType"] == "OperationOutcome"
    assert any(named in " ".join(issue.get("expression", [])) for issue in outcome["issue"])
    assert "Okafor" not in str(outcome)
    assert (await client.get(f"/{resource['resourceType']}/{resource['id']}")).status_code == 404
    assert await derived(clean_engine) == []


@pytest.mark.parametrize(
    ("bundle", "named"),
    [
        ({"resourceType": "Bundle", "type": "transaction", "entry": []}, "Bundle.type"),
        ({"resourceType": "Bundle", "type": "message", "entry": [{"resource": patient()}]}, "Bundle.entry[0]"),
        ({"resourceType": "Patient"}, "Bundle"),
        (
            {"resourceType": "Bundle", "type": "message", "entry": [{"resource": {"resourceType": "MessageHeader"}}]},
            "MessageHeader.id",
        ),
    ],
)
async def test_what_is_no_message_is_400(
    client: httpx.AsyncClient, clean_engine: AsyncEngine, bundle: dict, named: str
) -> None:
    response = await client.post("/$process-message", json=bundle)
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == [named]


async def test_capability_statement_says_what_messaging_supports(client: httpx.AsyncClient) -> None:
    statement = (await client.get("/metadata")).json()
    [messaging] = statement["messaging"]
    assert messaging["endpoint"][0]["address"].endswith("/fhir/$process-message")
    codings = {(e["valueCoding"]["system"], e["valueCoding"]["code"]) for e in messaging["extension"]}
    assert {(OURS, "appointment-booked"), (V2, "A01"), (V2, "S15"), (V2, "R01")} <= codings
    assert {"mode": "receiver", "definition": "http://fhircrm.org/fhir/MessageDefinition/patient-merged"} in messaging[
        "supportedMessage"
    ]
    operations = {op["name"] for op in statement["rest"][0]["operation"]}
    assert "process-message" in operations


async def test_odd_shapes_in_a_message_are_answered_not_500(
    client: httpx.AsyncClient, clean_engine: AsyncEngine
) -> None:
    odd = message("patient-registered", patient())
    odd["entry"][0]["resource"]["focus"] = 7
    assert answer(await send(client, odd))["response"]["code"] == "ok"
    odd = message("patient-registered", patient("mp3"))
    odd["entry"][0]["resource"]["focus"] = [{"reference": ["x"]}]
    assert answer(await send(client, odd))["response"]["code"] == "ok"
    odd = message("patient-registered", patient("mp4"))
    odd["entry"].append({"resource": 7})
    assert answer(await send(client, odd))["response"]["code"] == "fatal-error"
