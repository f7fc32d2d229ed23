"""SubscriptionTopics as data (issue 15): the shipped topics are Basic resources after install, an
administrator's new topic is usable by a Subscription at once, and topics are written only by administrators
and checked before they are stored. Both databases."""

from __future__ import annotations

import copy

import httpx
import pytest
import respx
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.security.conftest import FHIR_BASE, secured_app, seed, token
from tests.security.roles_clinic import two_sites
from tests.subscriptions.test_publisher import HOOK, Crm, _topic_sub
from tests.subscriptions.test_publisher import crm as crm  # the fixture

from fhircrm.subscriptions.backport import parse_notification
from fhircrm.subscriptions.topic_library import shipped_topics

XV = "http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic."
FLAG_TOPIC = "https://it.example.org/topics/flag-fall-risk"


def flag_topic(fhirpath: str = "%current.status = 'active' and %current.code.text = 'fall risk'") -> dict:
    """IT's own topic: an active fall-risk Flag on one patient (queryCriteria for the patient, FHIRPath for the
    status and code: R4's Flag has no status search parameter)."""
    trigger = [
        {"url": "resource", "valueUri": "http://hl7.org/fhir/StructureDefinition/Flag"},
        {"url": "supportedInteraction", "valueCode": "create"},
        {"url": "supportedInteraction", "valueCode": "update"},
        {"url": "queryCriteria", "extension": [{"url": "current", "valueString": "Flag?subject=Patient/p"}]},
        {"url": "fhirPathCriteria", "valueString": fhirpath},
    ]
    return {
        "resourceType": "Basic",
        "modifierExtension": [{"url": f"{XV}status", "valueCode": "active"}],
        "extension": [
            {"url": f"{XV}url", "valueUri": FLAG_TOPIC},
            {"url": f"{XV}title", "valueString": "Fall risk flagged"},
            {"url": f"{XV}resourceTrigger", "extension": trigger},
            {"url": f"{XV}canFilterBy", "extension": [{"url": "filterParameter", "valueString": "patient"}]},
        ],
        "code": {"coding": [{"system": "http://hl7.org/fhir/fhir-types", "code": "SubscriptionTopic"}]},
    }


def flag(status: str, text: str, patient: str = "p") -> dict:
    subject = {"reference": f"Patient/{patient}"}
    return {"resourceType": "Flag", "status": status, "code": {"text": text}, "subject": subject}


async def test_the_shipped_topics_are_resources_and_an_edit_is_kept(crm: Crm) -> None:
    from fhircrm.shipped_content import install_shipped_topics

    found = (await crm.api.get("/fhir/Basic?code=http://hl7.org/fhir/fhir-types|SubscriptionTopic")).json()
    ids = sorted(e["resource"]["id"] for e in found.get("entry", []))
    assert ids == sorted(t["id"] for t in shipped_topics())
    assert len(ids) == 11
    assert set((await install_shipped_topics(crm.engine, crm.settings)).values()) == {"current"}
    edited = copy.deepcopy(next(e["resource"] for e in found["entry"] if e["resource"]["id"].endswith("task-created")))
    edited["extension"][3]["valueString"] = "Task created (edited by IT)"
    response = await crm.api.put(f"/fhir/Basic/{edited['id']}", json=edited)
    assert response.status_code == 200, response.text
    assert (await install_shipped_topics(crm.engine, crm.settings))[edited["id"]] == "kept"


@respx.mock
async def test_a_topic_posted_by_it_is_usable_at_once(crm: Crm) -> None:
    hook = respx.post(HOOK).mock(return_value=httpx.Response(200))
    assert (await crm.post(flag_topic())).status_code == 201
    sub = _topic_sub("x", content="full-resource")
    sub["criteria"] = FLAG_TOPIC
    assert (await crm.subscription(**sub))["status"] == "active"
    match = (await crm.post(flag("active", "fall risk"))).json()
    await crm.post(flag("active", "fall risk", patient="q"))  # fails the queryCriteria
    await crm.post(flag("inactive", "fall risk"))  # fails the FHIRPath
    await crm.post(flag("active", "allergy"))  # fails the FHIRPath
    await crm.runner.drain()
    notes = [parse_notification(httpx.Response(200, content=c.request.content).json()) for c in hook.calls]
    assert [n.type for n in notes] == ["handshake", "event-notification"]
    assert notes[1].resources[0]["id"] == match["id"]


async def test_a_subscription_to_an_unknown_topic_names_it(crm: Crm) -> None:
    response = await crm.post(
        {"resourceType": "Subscription", "status": "requested", "reason": "x", **_topic_sub("nope")}
    )
    assert response.status_code == 422
    assert "https://fhircrm.dev/SubscriptionTopic/nope" in response.text


async def test_a_topic_with_an_unknown_search_parameter_is_refused_naming_the_element(crm: Crm) -> None:
    topic = flag_topic()
    topic["extension"][2]["extension"][3]["extension"][0]["valueString"] = "Flag?status=active"
    response = await crm.post(topic)
    assert response.status_code == 422
    [issue] = response.json()["issue"]
    assert issue["expression"] == ["SubscriptionTopic.resourceTrigger.queryCriteria.current"]


async def test_a_topic_with_bad_fhirpath_is_refused_naming_the_element(crm: Crm) -> None:
    response = await crm.post(flag_topic("%current.status = = 'x'"))
    assert response.status_code == 422
    [issue] = response.json()["issue"]
    assert issue["expression"] == ["SubscriptionTopic.resourceTrigger.fhirPathCriteria"]
    found = (await crm.api.get("/fhir/Basic?code=http://hl7.org/fhir/fhir-types|SubscriptionTopic")).json()
    assert FLAG_TOPIC not in str(found)


@pytest.mark.parametrize(
    ("scope", "claims", "status"),
    [
        ("launch/patient patient/*.cruds", {"patient": "pat-n1", "fhirUser": "Patient/pat-n1"}, 403),
        ("openid fhirUser user/*.cruds", {"fhirUser": "Practitioner/dr-n"}, 403),
        ("openid fhirUser user/*.cruds", {"fhirUser": "Practitioner/adm"}, 201),
    ],
    ids=["patient", "clinician", "administrator"],
)
async def test_only_administrators_write_topics(
    clean_engine: AsyncEngine, database_url: str, scope: str, claims: dict, status: int
) -> None:
    await seed(clean_engine, *two_sites())
    async with secured_app(clean_engine, database_url, roles_enforced=True) as app:
        headers = {"Accept": "application/fhir+json", "Authorization": f"Bearer {token(scope, **claims)}"}
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=FHIR_BASE, headers=headers) as api:
            topic = flag_topic()
            if "patient" in claims:
                topic["subject"] = {"reference": "Patient/pat-n1"}  # the patient's own Basic, were it not a topic
            response = await api.post("/Basic", json=topic)
    assert response.status_code == status, response.text
    if status == 403:
        assert response.json()["resourceType"] == "OperationOutcome"
