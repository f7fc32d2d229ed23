"""Our Subscriptions under attack (issue 13): who may create them, what their notifications carry (only what the
owner may read at delivery, under the owner's recorded access), and where notifications may go (no loopback,
private or metadata addresses unless allowlisted; names resolved again at delivery). Real SMART tokens, both
databases; subscribers faked with respx at the HTTP boundary; DNS answers played by a resolver put in the
``fhircrm.subscriptions.endpoints.resolver`` seam."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import respx
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.fixtures.stores import TESTS
from tests.security.conftest import FHIR_BASE, secured_app, seed, token

from fhircrm.config import CRM_ROLE_SYSTEM, Settings
from fhircrm.fhir.store import Operation
from fhircrm.jobs.runner import JobRunner
from fhircrm.runtime import Runtime
from fhircrm.stores import open_store
from fhircrm.subscriptions import endpoints, owners
from fhircrm.subscriptions.tables import subscription_delivery
from fhircrm.worker import build_wiring

RECEIVER = "https://receiver.partner.test/hook"  # a host on these tests' allowlist (respx answers it)
FHIR = {"Content-Type": "application/fhir+json"}
SYSTEM_OWNER = "system/*.rs system/Subscription.cruds"


@dataclass
class Crm:
    app: FastAPI
    engine: AsyncEngine
    runner: JobRunner

    def api(self, bearer: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
        headers = {"Accept": "application/fhir+json", "Authorization": f"Bearer {bearer}"}
        return httpx.AsyncClient(transport=transport, base_url=FHIR_BASE, headers=headers)

    async def subscribe(self, bearer: str, endpoint: str = RECEIVER, criteria: str = "Patient?") -> httpx.Response:
        async with self.api(bearer) as api:
            response = await api.post("/Subscription", json=subscription(endpoint, criteria), headers=FHIR)
        await self.runner.drain()
        return response

    async def deliveries(self) -> list[sa.Row]:
        async with self.engine.connect() as conn:
            return list(await conn.execute(sa.select(subscription_delivery).order_by(subscription_delivery.c.id)))

    async def audit_events(self) -> list[dict]:
        async with self.engine.connect() as conn:
            return (await open_store(conn, policy=TESTS).search("AuditEvent", [("_count", "1000")])).matches

    async def sent(self) -> list[dict]:
        """AuditEvents of notifications sent (message-sent: action E, subtype create)."""
        return [e for e in await self.audit_events() if e["action"] == "E" and e["outcome"] == "0"]

    async def refusals(self) -> list[dict]:
        """AuditEvents of withheld notifications."""
        return [e for e in await self.audit_events() if "withheld" in e.get("outcomeDesc", "")]


@asynccontextmanager
async def crm_app(engine: AsyncEngine, database_url: str, **extra: Any) -> AsyncIterator[Crm]:
    extra = {"subscriptions_allowed_endpoints": ["receiver.partner.test"], **extra}
    async with secured_app(engine, database_url, **extra) as app, httpx.AsyncClient() as http:
        registry = build_wiring(Runtime(app.state.settings, engine, http)).jobs
        yield Crm(app, engine, JobRunner(engine, registry))


@pytest.fixture
async def crm(clean_engine: AsyncEngine, database_url: str) -> AsyncIterator[Crm]:
    async with crm_app(clean_engine, database_url) as crm:
        await seed(clean_engine, patient("p1", "female"), patient("p2", "male"))
        yield crm


def subscription(endpoint: str, criteria: str = "Patient?") -> dict:
    return {
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "test",
        "criteria": criteria,
        "channel": {"type": "rest-hook", "endpoint": endpoint, "payload": "application/fhir+json"},
    }


def patient(patient_id: str, gender: str, *, phone: str = "555-0100") -> dict:
    return {
        "resourceType": "Patient",
        "id": patient_id,
        "gender": gender,
        "name": [{"family": f"Family-{patient_id}"}],
        "telecom": [{"system": "phone", "value": phone}],
    }


async def touch(crm: Crm, *patients: dict) -> None:
    """Change the patients (a new phone number) the way fhircrm's own services write, then run the jobs."""
    await seed(crm.engine, *[{**p, "telecom": [{"system": "phone", "value": "555-0199"}]} for p in patients])
    await crm.runner.drain()


def sent_ids(route: respx.Route) -> list[str]:
    return [call.request.url.path.rsplit("/", 1)[-1] for call in route.calls]


def references(audit: dict) -> set[str]:
    return {e["what"]["reference"] for e in audit.get("entity", []) if "what" in e}


def expression(response: httpx.Response) -> list[str]:
    return [e for issue in response.json()["issue"] for e in issue.get("expression", [])]


# --- who may create them --------------------------------------------------------------------------------------


async def test_patient_token_cannot_create_subscription(crm: Crm) -> None:
    """The attack of issue 13: a patient app subscribing to every Patient, to an address it chooses."""
    response = await crm.subscribe(token("patient/*.cruds", patient="p1"))
    assert response.status_code == 403, response.text
    async with crm.api(token(SYSTEM_OWNER, fhirUser=None)) as api:
        assert (await api.get("/Subscription")).json().get("total") == 0


async def test_a_subscription_records_its_owners_access(crm: Crm) -> None:
    response = await crm.subscribe(token(SYSTEM_OWNER, fhirUser=None, client_id="hospital-it"))
    assert response.status_code == 201, response.text
    async with crm.engine.connect() as conn:
        owner = await owners.load(conn, response.json()["id"])
    assert owner is not None
    assert (owner.kind, owner.client_id, owner.scopes) == ("system", "hospital-it", SYSTEM_OWNER)
    assert owner.issuer == "https://ehr.example.org/oauth2"


# --- what a notification carries ------------------------------------------------------------------------------


@respx.mock
async def test_a_system_owner_gets_the_patients_it_may_read(crm: Crm) -> None:
    hook = respx.put(url__startswith=RECEIVER).mock(return_value=httpx.Response(200))
    assert (await crm.subscribe(token(SYSTEM_OWNER, fhirUser=None))).status_code == 201
    await touch(crm, patient("p1", "female"), patient("p2", "male"))
    assert sorted(sent_ids(hook)) == ["p1", "p2"]
    sent = await crm.sent()
    assert len(sent) == 2
    assert {ref for e in sent for ref in references(e)} >= {"Patient/p1", "Patient/p2"}


@respx.mock
async def test_a_narrowed_system_owner_gets_no_payload_for_a_patient_it_cannot_read(crm: Crm) -> None:
    hook = respx.put(url__startswith=RECEIVER).mock(return_value=httpx.Response(200))
    narrowed = token("system/Patient.rs?gender=female system/Subscription.cruds", fhirUser=None)
    assert (await crm.subscribe(narrowed)).status_code == 201
    await touch(crm, patient("p1", "female"), patient("p2", "male"))
    assert sent_ids(hook) == ["p1"]
    [sent] = await crm.sent()
    assert "Patient/p1" in references(sent)
    statuses = {row.focus: (row.status, row.last_error) for row in await crm.deliveries()}
    assert statuses["Patient/p1"] == ("delivered", None)
    assert statuses["Patient/p2"] == ("refused", "the Subscription's owner may not read the focus of this event")
    [audit] = await crm.refusals()
    assert audit["outcome"] == "4"
    assert "Patient/p2" in references(audit)
    assert audit["agent"][0]["altId"] == "crm-app"


ADMIN_ROLE = {
    "resourceType": "PractitionerRole",
    "id": "role-adm",
    "practitioner": {"reference": "Practitioner/adm"},
    "code": [{"coding": [{"system": CRM_ROLE_SYSTEM, "code": "administrator"}]}],
}
ADMIN = {"resourceType": "Practitioner", "id": "adm"}


@respx.mock
async def test_an_administrator_owned_subscription_gets_no_patient_data(
    clean_engine: AsyncEngine, database_url: str
) -> None:
    async with crm_app(clean_engine, database_url, roles_enforced=True) as crm:
        await seed(clean_engine, ADMIN, ADMIN_ROLE, patient("p1", "female"))
        hook = respx.put(url__startswith=RECEIVER).mock(return_value=httpx.Response(200))
        response = await crm.subscribe(token("user/*.cruds", fhirUser="Practitioner/adm"))
        assert response.status_code == 201, response.text
        await touch(crm, patient("p1", "female"))
        assert not hook.called
        [delivery] = await crm.deliveries()
        assert delivery.status == "refused"
        [audit] = await crm.refusals()
        assert audit["agent"][0]["who"] == {"reference": "Practitioner/adm"}


@respx.mock
async def test_an_owner_who_lost_their_role_or_is_gone_gets_nothing(
    clean_engine: AsyncEngine, database_url: str
) -> None:
    """Roles are resolved again at every delivery: what the owner could read when subscribing does not count."""
    async with crm_app(clean_engine, database_url, roles_enforced=True) as crm:
        location = {"resourceType": "Location", "id": "loc-1", "name": "North"}
        await seed(clean_engine, ADMIN, ADMIN_ROLE, location)
        hook = respx.put(url__startswith=RECEIVER).mock(return_value=httpx.Response(200))
        response = await crm.subscribe(token("user/*.cruds", fhirUser="Practitioner/adm"), criteria="Location?")
        assert response.status_code == 201, response.text
        await seed(clean_engine, {**location, "name": "North 2"})
        await crm.runner.drain()
        assert sent_ids(hook) == ["loc-1"]

        await seed(clean_engine, {**ADMIN_ROLE, "active": False}, {**location, "name": "North 3"})
        await crm.runner.drain()
        async with crm.engine.begin() as conn:
            await open_store(conn, policy=TESTS).apply([Operation("DELETE", "Practitioner", "adm")])
        await seed(clean_engine, {**location, "name": "North 4"})
        await crm.runner.drain()
        assert sent_ids(hook) == ["loc-1"]
        errors = [row.last_error for row in await crm.deliveries()]
        assert errors[1] == "the Subscription's owner may not read resources of this type"
        assert errors[2] == "the Subscription's owner no longer exists on this server"


# --- where notifications may go -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://127.0.0.1/hook",
        "http://10.0.0.5/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:8080/hook",
        "http://localhost:8080/hook",  # a name that resolves to loopback
        "http://100.64.0.1/hook",
        "https://[fd00::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
    ],
)
async def test_an_endpoint_on_an_internal_address_is_refused(
    clean_engine: AsyncEngine, database_url: str, endpoint: str
) -> None:
    async with crm_app(clean_engine, database_url, subscriptions_allowed_endpoints=[]) as crm:
        response = await crm.subscribe(token(SYSTEM_OWNER, fhirUser=None), endpoint)
        assert response.status_code == 422, response.text
        assert expression(response) == ["Subscription.channel.endpoint"]
        async with crm.api(token(SYSTEM_OWNER, fhirUser=None)) as api:
            assert (await api.get("/Subscription")).json().get("total") == 0


async def test_an_http_endpoint_is_refused_in_production(clean_engine: AsyncEngine, database_url: str) -> None:
    async with crm_app(clean_engine, database_url) as crm:
        settings = crm.app.state.settings
        crm.app.state.settings = Settings(**{**settings.model_dump(), "environment": "production"})
        response = await crm.subscribe(token(SYSTEM_OWNER, fhirUser=None), "http://receiver.partner.test/hook")
        assert response.status_code == 422, response.text
        assert "https" in response.json()["issue"][0]["diagnostics"]
        assert expression(response) == ["Subscription.channel.endpoint"]


async def test_an_allowlisted_loopback_endpoint_is_accepted(clean_engine: AsyncEngine, database_url: str) -> None:
    async with crm_app(clean_engine, database_url, subscriptions_allowed_endpoints=["127.0.0.0/8"]) as crm:
        response = await crm.subscribe(token(SYSTEM_OWNER, fhirUser=None), "http://127.0.0.1:9/hook")
        assert response.status_code == 201, response.text
        response = await crm.subscribe(token(SYSTEM_OWNER, fhirUser=None), "http://10.0.0.5/hook")
        assert response.status_code == 422, response.text


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """The DNS as these tests tell it: host -> addresses (a missing host does not resolve)."""
    answers: dict[str, list[str]] = {}

    async def resolve(host: str, _port: int) -> list[str]:
        if host not in answers:
            raise OSError(f"{host} does not resolve")
        return answers[host]

    monkeypatch.setattr(endpoints, "resolver", resolve)
    return answers


@respx.mock
async def test_a_name_that_rebinds_to_a_private_address_is_refused_at_delivery(
    clean_engine: AsyncEngine, database_url: str, dns: dict[str, list[str]]
) -> None:
    async with crm_app(clean_engine, database_url, subscriptions_allowed_endpoints=[]) as crm:
        await seed(clean_engine, patient("p1", "female"))
        anywhere = respx.route().mock(return_value=httpx.Response(200))
        dns["hooks.partner.example"] = ["93.184.216.34"]
        response = await crm.subscribe(token(SYSTEM_OWNER, fhirUser=None), "https://hooks.partner.example/hook")
        assert response.status_code == 201, response.text
        dns["hooks.partner.example"] = ["93.184.216.34", "10.1.2.3"]  # the attacker's DNS now points inside
        await touch(crm, patient("p1", "female"))
        assert not anywhere.called
        [delivery] = await crm.deliveries()
        assert delivery.status == "dead"
        assert "private address" in delivery.last_error
        async with crm.api(token(SYSTEM_OWNER, fhirUser=None)) as api:
            sub = (await api.get(f"/Subscription/{response.json()['id']}")).json()
        assert sub["status"] == "error"
        [audit] = await crm.refusals()
        assert "private address" in audit["outcomeDesc"]
        assert "10.1.2.3" not in audit["outcomeDesc"] and "hooks.partner.example" not in audit["outcomeDesc"]


@respx.mock
async def test_a_notification_goes_to_the_address_that_was_checked(
    clean_engine: AsyncEngine, database_url: str, dns: dict[str, list[str]]
) -> None:
    """The request is sent to the resolved address (the name kept as Host and TLS server name), so a second lookup
    by the HTTP client cannot be answered differently."""
    async with crm_app(clean_engine, database_url, subscriptions_allowed_endpoints=[]) as crm:
        await seed(clean_engine, patient("p1", "female"))
        dns["hooks.partner.example"] = ["93.184.216.34"]
        hook = respx.put("https://93.184.216.34/hook/Patient/p1").mock(return_value=httpx.Response(200))
        response = await crm.subscribe(token(SYSTEM_OWNER, fhirUser=None), "https://hooks.partner.example/hook")
        assert response.status_code == 201, response.text
        await touch(crm, patient("p1", "female"))
        [call] = hook.calls
        assert call.request.headers["Host"] == "hooks.partner.example"
        assert call.request.extensions["sni_hostname"] == "hooks.partner.example"
