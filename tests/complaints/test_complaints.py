"""A complaint gets SLAs by severity, warns, breaches and escalates; closing needs a resolution and asks for
feedback."""

from __future__ import annotations

from datetime import timedelta

import httpx
from tests.fixtures.populations import NOW, Writer

from fhircrm.complaints import Complaint, check_slas, close_complaint, open_complaint
from fhircrm.complaints.codes import SLA_SYSTEM
from fhircrm.errors import Unprocessable


async def _complaint(writer: Writer, severity: str = "medium") -> dict:
    patient = await writer.patient(
        telecom=[{"system": "phone", "value": "+15551239999", "use": "mobile"}],
        extension=[{"url": "http://fhircrm.org/StructureDefinition/preferred-channel", "valueCode": "sms"}],
    )
    complaint = Complaint(
        patient=f"Patient/{patient['id']}", category="Waiting time", severity=severity, description="Waited 2 hours"
    )
    return await writer.run(lambda store: open_complaint(store, complaint, NOW))


async def _check(writer: Writer, hours: float) -> dict[str, int]:
    return await writer.run(lambda store: check_slas(store, NOW + timedelta(hours=hours)))


def _sla(task: dict) -> str | None:
    return next((c["code"] for c in task["businessStatus"]["coding"] if c["system"] == SLA_SYSTEM), None)


async def test_a_medium_complaint_gets_its_acknowledgement_and_resolution_due_times(writer: Writer) -> None:
    task = await _complaint(writer)
    assert task["priority"] == "urgent"
    assert task["restriction"]["period"]["end"] == "2031-06-17T16:00:00Z"  # 48 h
    assert {
        "url": "http://fhircrm.org/StructureDefinition/acknowledgement-due",
        "valueDateTime": "2031-06-16T00:00:00Z",
    } in task["extension"]  # 8 h


async def test_an_unacknowledged_complaint_warns_then_breaches_and_escalates(writer: Writer) -> None:
    task = await _complaint(writer)
    assert await _check(writer, 6.5) == {"ack-warning": 1}  # 6.5 h >= 75% of 8 h
    assert _sla(await writer.read("Task", task["id"])) == "ack-warning"
    assert await _check(writer, 9) == {"ack-breached": 1}
    escalated = await writer.read("Task", task["id"])
    assert escalated["priority"] == "asap"
    assert escalated["performerType"][0]["coding"][0]["code"] == "supervisor"
    (flag,) = await writer.search("Flag", ("patient", task["for"]["reference"]))
    assert flag["status"] == "active"


async def test_a_breach_escalates_only_once(writer: Writer) -> None:
    task = await _complaint(writer)
    await _check(writer, 9)
    await _check(writer, 50)  # now the resolution is late too
    again = await writer.read("Task", task["id"])
    assert again["priority"] == "asap" and _sla(again) == "breached"
    assert len(await writer.search("Flag")) == 1


async def test_closing_without_a_resolution_is_refused_and_changes_nothing(writer: Writer) -> None:
    task = await _complaint(writer)
    try:
        await writer.run(lambda store: close_complaint(store, task["id"], "  ", settings=writer.settings, now=NOW))
    except Unprocessable:
        pass
    else:
        raise AssertionError("closing without a resolution must fail")
    assert (await writer.read("Task", task["id"]))["meta"]["versionId"] == "1"


async def test_closing_records_the_resolution_lifts_the_flag_and_sends_a_closure_survey(writer: Writer) -> None:
    task = await _complaint(writer)
    await _check(writer, 9)
    later = NOW + timedelta(hours=10)
    closed = await writer.run(
        lambda store: close_complaint(
            store, task["id"], "Apologised; changed rota", settings=writer.settings, now=later
        )
    )
    assert closed["status"] == "completed" and closed["output"][0]["valueString"] == "Apologised; changed rota"
    assert (await writer.search("Flag"))[0]["status"] == "inactive"
    (survey,) = await writer.search("Communication", ("recipient", task["for"]["reference"]))
    assert survey["topic"]["text"] == "survey:complaint-closure"


async def test_the_api_logs_a_complaint_and_refuses_a_bad_severity(client: httpx.AsyncClient) -> None:
    patient = (await client.post("Patient", json={"resourceType": "Patient"})).json()
    bad = await client.post(
        "http://testserver/api/complaints",
        json={"patient": f"Patient/{patient['id']}", "category": "billing", "severity": "apocalyptic"},
    )
    assert bad.status_code == 400  # the body does not validate: an OperationOutcome, nothing written
    assert (await client.get("Task")).json()["total"] == 0
    good = await client.post(
        "http://testserver/api/complaints",
        json={"patient": f"Patient/{patient['id']}", "category": "billing", "severity": "low"},
    )
    assert good.status_code == 201 and good.json()["priority"] == "routine"
