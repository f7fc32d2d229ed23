"""The R4 invariants of the types fhircrm owns are checked on every write (``fhircrm.fhir.invariants``): for each
type one resource that breaks a real constraint of the official definitions is refused with a 422 naming the
invariant's key, its text and the element, never the submitted value, and nothing is stored; the same resource
mended is accepted. A transaction with one such entry is refused whole; a batch refuses that entry only. An
update is refused only for what it newly breaks."""

from __future__ import annotations

import httpx
import pytest
from tests.fhir.bundles import bundle, post
from tests.fixtures.r4_examples import r4_examples

from fhircrm.fhir.invariants import _COULD_FAIL, WRITE_CHECKED, _always, invariant_issues, invariants

SECRET = "Zebulon-Quaintance"  # a value no diagnostic may quote

APPOINTMENT = {
    "resourceType": "Appointment",
    "status": "booked",
    "description": SECRET,
    "start": "2026-12-01T09:00:00Z",
    "end": "2026-12-01T09:20:00Z",
    "participant": [{"actor": {"reference": "Patient/p1", "display": SECRET}, "status": "accepted"}],
}
CONTAINED = {"resourceType": "Patient", "id": "c1", "name": [{"family": SECRET}]}
QUESTION = {"linkId": "q1", "text": SECRET, "type": "string"}
CONSENT = {
    "resourceType": "Consent",
    "status": "active",
    "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "treatment"}]},
    "category": [{"text": SECRET}],
    "patient": {"reference": "Patient/p1"},
}
TASK = {
    "resourceType": "Task",
    "status": "requested",
    "intent": "order",
    "description": SECRET,
    "authoredOn": "2026-12-01T10:00:00Z",
}

# (type, broken, mended, invariant key, element)
CASES = [
    (  # app-2, app-3: booked with a start and no end
        {k: v for k, v in APPOINTMENT.items() if k != "end"},
        APPOINTMENT,
        ("app-2", "app-3"),
        "Appointment",
    ),
    (  # app-1: a participant with neither type nor actor
        {**APPOINTMENT, "participant": [*APPOINTMENT["participant"], {"status": "needs-action"}]},
        {
            **APPOINTMENT,
            "participant": [
                *APPOINTMENT["participant"],
                {"type": [{"text": "interpreter"}], "status": "needs-action"},
            ],
        },
        ("app-1",),
        "Appointment.participant[1]",
    ),
    (  # app-4: a cancellation reason on a booked appointment
        {**APPOINTMENT, "cancelationReason": {"text": SECRET}},
        {**APPOINTMENT, "status": "cancelled", "cancelationReason": {"text": SECRET}},
        ("app-4",),
        "Appointment",
    ),
    (  # dom-5: a contained resource with a security label (fhirpathpy cannot evaluate dom-3: skipped)
        {
            "resourceType": "Communication",
            "status": "completed",
            "contained": [{**CONTAINED, "meta": {"security": [{"code": "R"}]}}],
            "recipient": [{"reference": "#c1"}],
            "payload": [{"contentString": SECRET}],
        },
        {
            "resourceType": "Communication",
            "status": "completed",
            "contained": [CONTAINED],
            "recipient": [{"reference": "#c1"}],
            "payload": [{"contentString": SECRET}],
        },
        ("dom-5",),
        "Communication",
    ),
    (  # dom-4: a contained resource with a version of its own
        {
            "resourceType": "CommunicationRequest",
            "status": "active",
            "contained": [{**CONTAINED, "meta": {"versionId": "7"}}],
            "recipient": [{"reference": "#c1"}],
        },
        {
            "resourceType": "CommunicationRequest",
            "status": "active",
            "contained": [CONTAINED],
            "recipient": [{"reference": "#c1"}],
        },
        ("dom-4",),
        "CommunicationRequest",
    ),
    (  # ppc-1: neither a policy nor a policy rule
        CONSENT,
        {**CONSENT, "policyRule": {"text": "opt-in"}},
        ("ppc-1",),
        "Consent",
    ),
    (  # pat-1: a contact with only a relationship
        {"resourceType": "Patient", "contact": [{"relationship": [{"text": SECRET}]}]},
        {"resourceType": "Patient", "contact": [{"relationship": [{"text": "sister"}], "name": {"family": SECRET}}]},
        ("pat-1",),
        "Patient.contact[0]",
    ),
    (  # que-1: a group without items
        {
            "resourceType": "Questionnaire",
            "status": "active",
            "item": [{"linkId": "g1", "text": SECRET, "type": "group"}],
        },
        {
            "resourceType": "Questionnaire",
            "status": "active",
            "item": [{"linkId": "g1", "text": SECRET, "type": "group", "item": [QUESTION]}],
        },
        ("que-1",),
        "Questionnaire.item[0]",
    ),
    (  # que-2: two items with one linkId
        {"resourceType": "Questionnaire", "status": "active", "item": [QUESTION, QUESTION]},
        {"resourceType": "Questionnaire", "status": "active", "item": [QUESTION, {**QUESTION, "linkId": "q2"}]},
        ("que-2",),
        "Questionnaire",
    ),
    (  # qrs-1: an item with both answers and nested items
        {
            "resourceType": "QuestionnaireResponse",
            "status": "completed",
            "item": [{"linkId": "q1", "answer": [{"valueString": SECRET}], "item": [{"linkId": "q1.1"}]}],
        },
        {
            "resourceType": "QuestionnaireResponse",
            "status": "completed",
            "item": [{"linkId": "q1", "answer": [{"valueString": SECRET, "item": [{"linkId": "q1.1"}]}]}],
        },
        ("qrs-1",),
        "QuestionnaireResponse.item[0]",
    ),
    (  # inv-1: modified before it was authored
        {**TASK, "lastModified": "2026-11-30T10:00:00Z"},
        {**TASK, "lastModified": "2026-12-01T10:05:00Z"},
        ("inv-1",),
        "Task",
    ),
]


def test_every_write_checked_type_has_a_case() -> None:
    assert {broken["resourceType"] for broken, *_ in CASES} == WRITE_CHECKED


async def count(client: httpx.AsyncClient, resource_type: str) -> int:
    response = await client.get(f"/{resource_type}", params={"_summary": "count"})
    return response.json()["total"]


@pytest.mark.parametrize(
    ("broken", "mended", "keys", "element"), CASES, ids=[f"{c[0]['resourceType']}-{c[2][0]}" for c in CASES]
)
async def test_a_write_breaking_an_invariant_is_refused_and_the_mended_one_accepted(
    client: httpx.AsyncClient, broken: dict, mended: dict, keys: tuple[str, ...], element: str
) -> None:
    resource_type = broken["resourceType"]
    response = await client.post(f"/{resource_type}", json=broken)
    assert response.status_code == 422, response.text
    assert SECRET not in response.text
    humans = {i.key: i.human for i in invariants(resource_type)}
    issues = [i for i in response.json()["issue"] if i["code"] == "invariant"]
    for key in keys:
        [issue] = [i for i in issues if f"({key})" in i["diagnostics"]]
        assert issue["severity"] == "error"
        assert humans[key] in issue["diagnostics"]
        assert issue["expression"] == [element]
    assert await count(client, resource_type) == 0
    created = await client.post(f"/{resource_type}", json=mended)
    assert created.status_code == 201, created.text
    assert await count(client, resource_type) == 1


async def test_an_update_or_patch_that_breaks_an_invariant_is_refused(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Appointment", json=APPOINTMENT)).json()
    url = f"/Appointment/{created['id']}"
    put = await client.put(url, json={k: v for k, v in created.items() if k != "end"})
    assert put.status_code == 422 and "(app-2)" in put.text and SECRET not in put.text
    patch = await client.patch(
        url,
        json=[{"op": "remove", "path": "/end"}],
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert patch.status_code == 422 and "(app-2)" in patch.text
    assert (await client.get(url)).json()["meta"]["versionId"] == "1"


async def test_a_transaction_with_one_breaking_entry_is_refused_whole(client: httpx.AsyncClient) -> None:
    broken, mended, *_ = CASES[0]
    response = await client.post("", json=bundle("transaction", post(mended), post(broken)))
    assert response.status_code == 422, response.text
    assert "(app-2)" in response.text and SECRET not in response.text
    assert await count(client, "Appointment") == 0


async def test_a_batch_refuses_the_breaking_entry_only(client: httpx.AsyncClient) -> None:
    broken, mended, *_ = CASES[0]
    answer = await client.post("", json=bundle("batch", post(broken), post(mended)))
    assert answer.status_code == 200
    first, second = answer.json()["entry"]
    assert first["response"]["status"].startswith("422") and second["response"]["status"].startswith("201")
    diagnostics = " ".join(i["diagnostics"] for i in first["response"]["outcome"]["issue"])
    assert "(app-2)" in diagnostics and "(app-3)" in diagnostics and SECRET not in str(first)
    assert await count(client, "Appointment") == 1


def test_the_shortcuts_are_in_use_and_agree_with_evaluating_every_invariant() -> None:
    """Each ``_COULD_FAIL`` shortcut is in use (its pinned expression is the definitions') and decides as the
    full evaluation does on every case here and on the official R4 examples of the checked types."""
    for resource_type in WRITE_CHECKED:
        for invariant in invariants(resource_type):
            if (invariant.path, invariant.key) in _COULD_FAIL:
                assert invariant.could_fail is not _always, (invariant.path, invariant.key)
    examples = [resource for _, resource in r4_examples() if resource["resourceType"] in WRITE_CHECKED]
    assert len(examples) > 50
    tasks = [
        {"resourceType": "Task", "status": "requested", "intent": "order", "authoredOn": a, "lastModified": m}
        for a, m in [
            ("2026-12-01T10:00:00Z", "2026-12-01T10:00:00Z"),
            ("2026-12-01T10:00:00.500Z", "2026-12-01T10:00:00.400Z"),
            ("2026-12-01T10:00:00+01:00", "2026-12-01T09:30:00Z"),
            ("2026-12-01T10:00:00+01:00", "2026-12-01T09:30:00+01:00"),
            ("2026-12-01", "2026-11-30"),
            ("2026-12-01", "2026-12-01T09:30:00Z"),
        ]
    ]
    for resource in [r for case in CASES for r in case[:2]] + tasks + examples:
        quick = [i.diagnostics for i in invariant_issues(resource)]
        assert quick == [i.diagnostics for i in invariant_issues(resource, shortcuts=False)], resource.get("id")
