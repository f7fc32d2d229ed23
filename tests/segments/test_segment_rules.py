"""Segment rules select the right patients, on PostgreSQL and on SQLite, and keep membership history."""

from __future__ import annotations

from datetime import timedelta

import httpx
from tests.fixtures.populations import NOW, Writer

from fhircrm.segments.groups import active_members, find_segment
from fhircrm.segments.load import load_segments
from fhircrm.segments.lookup import members, segments_of
from fhircrm.segments.refresh import refresh_all, refresh_patient

HYPERTENSION, DIABETES = "38341003", "44054006"


async def _clinic(writer: Writer) -> dict[str, dict]:
    """ana: 70, hypertension, self-pay, Spanish; ben: 30, diabetes, insured; cy: 50, no conditions, a no-show."""
    ana = await writer.patient(birthDate="1961-01-01", communication=[{"language": {"coding": [{"code": "es"}]}}])
    ben = await writer.patient(birthDate="2001-01-01")
    cy = await writer.patient(birthDate="1981-01-01")
    await writer.condition(ana, HYPERTENSION)
    await writer.condition(ben, DIABETES)
    for who, selfpay in ((ana, True), (ben, False)):
        coverage = {
            "resourceType": "Coverage",
            "status": "active",
            "beneficiary": {"reference": f"Patient/{who['id']}"},
            "payor": [{"reference": f"Patient/{who['id']}"}],
        }
        if selfpay:
            coverage["type"] = {
                "coding": [{"system": "http://terminology.hl7.org/CodeSystem/coverage-selfpay", "code": "pay"}]
            }
        else:
            coverage["type"] = {
                "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "HIP"}]
            }
        await writer.write(coverage)
    await writer.write(
        {
            "resourceType": "Appointment",
            "status": "noshow",
            "start": (NOW - timedelta(days=20)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end": (NOW - timedelta(days=20, minutes=-20)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "participant": [{"actor": {"reference": f"Patient/{cy['id']}"}, "status": "accepted"}],
        }
    )
    await writer.write(
        {
            "resourceType": "Encounter",
            "status": "finished",
            "class": {"code": "AMB"},
            "subject": {"reference": f"Patient/{ben['id']}"},
            "period": {"start": (NOW - timedelta(days=40)).strftime("%Y-%m-%dT%H:%M:%SZ")},
        }
    )
    await writer.run(lambda store: load_segments(store))
    await writer.run(lambda store: refresh_all(store, NOW))
    return {"ana": ana, "ben": ben, "cy": cy}


async def _members(writer: Writer, segment: str) -> set[str]:
    return set(await writer.run(lambda store: members(store, segment)))


async def test_chronic_care_segments_select_patients_by_condition_code(writer: Writer) -> None:
    people = await _clinic(writer)
    assert await _members(writer, "chronic-hypertension") == {people["ana"]["id"]}
    assert await _members(writer, "chronic-diabetes") == {people["ben"]["id"]}


async def test_coverage_segments_split_self_pay_from_insured(writer: Writer) -> None:
    people = await _clinic(writer)
    assert await _members(writer, "self-pay") == {people["ana"]["id"]}
    assert await _members(writer, "insured") == {people["ben"]["id"]}


async def test_age_and_exclusion_select_adults_due_for_screening(writer: Writer) -> None:
    people = await _clinic(writer)
    # 45-75 on 2031-06-15: ana (70) and cy (50); ben is 30
    assert await _members(writer, "colorectal-screening-due") == {people["ana"]["id"], people["cy"]["id"]}


async def test_inactive_segment_excludes_patients_seen_this_year(writer: Writer) -> None:
    people = await _clinic(writer)
    assert await _members(writer, "inactive") == {people["ana"]["id"], people["cy"]["id"]}


async def test_low_adherence_segment_selects_recent_no_shows_and_language_segment_selects_spanish(
    writer: Writer,
) -> None:
    people = await _clinic(writer)
    assert await _members(writer, "low-adherence") == {people["cy"]["id"]}
    assert await _members(writer, "spanish-speaking") == {people["ana"]["id"]}


async def test_a_patient_who_stops_matching_leaves_with_an_end_date_and_stays_in_history(writer: Writer) -> None:
    people = await _clinic(writer)
    condition = (await writer.search("Condition", ("patient", f"Patient/{people['ana']['id']}")))[0]

    async def delete(store):  # type: ignore[no-untyped-def]
        await store.delete("Condition", condition["id"])
        return await refresh_patient(store, f"Patient/{people['ana']['id']}", NOW + timedelta(days=1))

    assert await writer.run(delete) == 1
    group = await writer.run(lambda store: find_segment(store, "chronic-hypertension"))
    assert active_members(group) == []
    (entry,) = group["member"]
    assert entry["inactive"] is True and entry["period"]["end"] == "2031-06-16T16:00:00Z"
    assert "chronic-hypertension" not in await writer.run(lambda store: segments_of(store, people["ana"]["id"]))


async def test_patient_lookup_lists_every_segment_a_patient_is_in(writer: Writer) -> None:
    people = await _clinic(writer)
    found = await writer.run(lambda store: segments_of(store, f"Patient/{people['ana']['id']}"))
    assert found == [
        "chronic-hypertension",
        "colorectal-screening-due",
        "inactive",
        "self-pay",
        "spanish-speaking",
    ]


async def test_hospital_it_adds_a_segment_by_posting_a_definition(client: httpx.AsyncClient) -> None:
    older = (await client.post("Patient", json={"resourceType": "Patient", "birthDate": "1940-01-01"})).json()
    await client.post("Patient", json={"resourceType": "Patient", "birthDate": "2010-01-01"})
    body = "id: over-80\ntitle: Over 80\nall: [{age: {min: 80}}]\n"
    created = await client.post("http://testserver/api/segments", content=body)
    assert created.status_code == 201
    assert created.json()["members"] == 1
    listed = await client.get("http://testserver/api/segments/over-80/members")
    assert listed.json()["patients"] == [f"Patient/{older['id']}"]


async def test_an_invalid_definition_is_refused_and_nothing_is_written(client: httpx.AsyncClient) -> None:
    response = await client.post("http://testserver/api/segments", content="id: bad\ntitle: Bad\nall: [{shoe: 9}]\n")
    assert response.status_code == 422
    assert response.json()["resourceType"] == "OperationOutcome"
    groups = (await client.get("Group")).json()
    assert groups.get("total", 0) == 0 and not groups.get("entry")
