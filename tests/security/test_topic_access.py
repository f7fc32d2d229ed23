"""SubscriptionTopics in the backport IG's Basic form are configuration for reads and searches too, as for writes:
an administrator (outside every patient's record) reads and searches them back, a clinician and a patient app as
the configuration row says (allow), and every other Basic stays in the patient record (an administrator is
refused it and does not find it; a patient app finds its own only). A token whose scopes name Basic but not
SubscriptionTopic reaches no topic. Real SMART tokens, roles enforced, both databases; every refusal leaves an
AuditEvent."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.security.conftest import FHIR_BASE, secured_app, seed, token
from tests.security.roles_clinic import two_sites
from tests.security.test_audit_events import audit_events
from tests.subscriptions.test_topics_as_data import FLAG_TOPIC, flag_topic

from fhircrm.fhir.topic_form import TOPIC_CODE
from fhircrm.smart.access_table import decide


def topic() -> dict:
    return {**flag_topic(), "id": "topic-flag"}


def note(basic_id: str, patient: str) -> dict:
    """A Basic that is not a topic: part of ``patient``'s record."""
    return {"resourceType": "Basic", "id": basic_id, "code": {"text": "note"}, "subject": {"reference": patient}}


PATIENT_APP = ("launch/patient patient/*.rs", {"patient": "pat-n1", "fhirUser": "Patient/pat-n1"})
ADMINISTRATOR = ("openid fhirUser user/*.rs", {"fhirUser": "Practitioner/adm"})
CLINICIAN = ("openid fhirUser user/*.rs", {"fhirUser": "Practitioner/dr-n"})


@asynccontextmanager
async def _clinic(engine: AsyncEngine, database_url: str) -> AsyncIterator[Callable]:
    await seed(engine, *two_sites(), topic(), note("note-n1", "Patient/pat-n1"), note("note-x", "Patient/pat-x"))
    async with secured_app(engine, database_url, roles_enforced=True) as app:

        def client(scope: str, claims: dict) -> httpx.AsyncClient:
            headers = {"Accept": "application/fhir+json", "Authorization": f"Bearer {token(scope, **claims)}"}
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            return httpx.AsyncClient(transport=transport, base_url=FHIR_BASE, headers=headers)

        yield client


async def _found(api: httpx.AsyncClient, params: dict | None = None) -> set[str]:
    response = await api.get("/Basic", params=params or {})
    assert response.status_code == 200, response.text
    return {e["resource"]["id"] for e in response.json().get("entry", [])}


async def _refusals(engine: AsyncEngine) -> list[str]:
    """The status of each refused request, from its AuditEvent."""
    return [e["outcomeDesc"].split()[0] for e in await audit_events(engine) if e["outcome"] != "0"]


def test_the_table_makes_topics_configuration_readable_by_every_kind_asked_here() -> None:
    # what the expectations below follow: configuration reads are allowed to these kinds, Basic is patient data
    for kind in ("patient", "clinician", "administrator"):
        assert decide(kind, "read", "SubscriptionTopic") == decide(kind, "search", "SubscriptionTopic") == "allow"
    assert decide("administrator", "read", "Basic") == "deny"


async def test_an_administrator_reads_and_searches_topics_but_no_other_basic(
    clean_engine: AsyncEngine, database_url: str
) -> None:
    async with _clinic(clean_engine, database_url) as client, client(*ADMINISTRATOR) as api:
        read = await api.get("/Basic/topic-flag")
        assert read.status_code == 200, read.text
        assert read.json()["extension"][0]["valueUri"] == FLAG_TOPIC
        assert await _found(api, {"code": TOPIC_CODE}) == {"topic-flag"}
        assert await _found(api) == {"topic-flag"}  # the patients' Basic resources are not the administrator's
        assert await _found(api, {"subject": "Patient/pat-n1"}) == set()
        refused = await api.get("/Basic/note-n1")
        assert refused.status_code == 403
        assert refused.json()["resourceType"] == "OperationOutcome"
    assert await _refusals(clean_engine) == ["403"]


async def test_a_clinician_reads_topics_and_only_the_basic_of_their_patients(
    clean_engine: AsyncEngine, database_url: str
) -> None:
    async with _clinic(clean_engine, database_url) as client, client(*CLINICIAN) as api:
        assert (await api.get("/Basic/topic-flag")).status_code == 200
        assert await _found(api) == {"topic-flag", "note-n1"}
        assert await _found(api, {"code": TOPIC_CODE}) == {"topic-flag"}
        assert (await api.get("/Basic/note-x")).status_code == 403
    assert await _refusals(clean_engine) == ["403"]


async def test_a_patient_app_reads_topics_as_configuration_and_only_its_own_other_basic(
    clean_engine: AsyncEngine, database_url: str
) -> None:
    async with _clinic(clean_engine, database_url) as client, client(*PATIENT_APP) as api:
        assert (await api.get("/Basic/topic-flag")).status_code == 200
        assert await _found(api) == {"topic-flag", "note-n1"}
        assert (await api.get("/Basic/note-x")).status_code == 403
    assert await _refusals(clean_engine) == ["403"]


async def test_scopes_that_name_basic_but_not_subscription_topic_reach_no_topic(
    clean_engine: AsyncEngine, database_url: str
) -> None:
    scope, claims = PATIENT_APP
    async with _clinic(clean_engine, database_url) as client:
        async with client(scope.replace("patient/*.rs", "patient/Basic.rs"), claims) as api:
            assert await _found(api) == {"note-n1"}
            assert await _found(api, {"code": TOPIC_CODE}) == set()
            refused = await api.get("/Basic/topic-flag")
            assert refused.status_code == 403
        async with client("openid fhirUser user/Basic.rs", ADMINISTRATOR[1]) as api:
            assert (await api.get("/Basic")).status_code == 403  # neither a topic nor patient data for them
    assert await _refusals(clean_engine) == ["403", "403"]
