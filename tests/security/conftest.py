"""A fhircrm API that checks real SMART access tokens, signed by a test EHR whose JWKS it fetches over HTTP."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.fixtures.stores import TESTS

from fhircrm.app import create_app
from fhircrm.config import Settings
from fhircrm.smart import install_resource_server
from fhircrm.stores import open_store

EHR_ISSUER = "https://ehr.example.org/oauth2"
EHR_JWKS = "https://ehr.example.org/oauth2/jwks"
FHIR_BASE = "http://testserver/fhir"
KEY = RSAKey.generate_key(2048, parameters={"kid": "ehr-1", "alg": "RS384", "use": "sig"})
OTHER_KEY = RSAKey.generate_key(2048, parameters={"kid": "ehr-1", "alg": "RS384", "use": "sig"})


def token(scope: str, *, key: RSAKey = KEY, **claims: Any) -> str:
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": EHR_ISSUER,
        "aud": FHIR_BASE,
        "sub": "user-7",
        "client_id": "crm-app",
        "scope": scope,
        "fhirUser": "Practitioner/7",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
    }
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode({"alg": "RS384", "kid": key.kid}, body, key, algorithms=["RS384"])


def ehr_jwks(request: httpx.Request) -> httpx.Response:
    """The EHR's key endpoint, at the HTTP boundary of fhircrm's shared client."""
    if str(request.url) == EHR_JWKS:
        return httpx.Response(200, json={"keys": [KEY.as_dict(private=False)]})
    return httpx.Response(404)


@asynccontextmanager
async def secured_app(engine: AsyncEngine, database_url: str, **extra: Any) -> AsyncIterator[FastAPI]:
    """fhircrm checking SMART tokens of the test EHR (``extra``: more settings, e.g. a channel provider).

    Scopes alone decide here (``roles_enforced=False``) unless a test asks for roles: the suites of this directory
    test SMART scopes with a ``fhirUser`` that has no PractitionerRole; ``test_roles.py`` tests roles.
    """
    extra = {"roles_enforced": False, **extra}
    settings = Settings(
        environment="test",
        database_url=database_url,
        base_url=FHIR_BASE,
        auth_mode="jwt",
        auth_issuer=EHR_ISSUER,
        auth_jwks_url=EHR_JWKS,
        **extra,
    )
    app = create_app(settings, migrate=False)
    app.state.engine = engine
    async with httpx.AsyncClient(transport=httpx.MockTransport(ehr_jwks)) as http:
        app.state.http = http
        install_resource_server(app, settings, http)
        yield app


@pytest.fixture
async def secured(clean_engine: AsyncEngine, database_url: str) -> AsyncIterator[FastAPI]:
    async with secured_app(clean_engine, database_url) as app:
        yield app


@pytest.fixture
def api(secured: FastAPI) -> Callable[[str | None], httpx.AsyncClient]:
    """``api(token)``: a client of the secured API presenting ``token`` (or none)."""

    def make(bearer: str | None) -> httpx.AsyncClient:
        headers = {"Accept": "application/fhir+json"}
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        transport = httpx.ASGITransport(app=secured, raise_app_exceptions=False)
        return httpx.AsyncClient(transport=transport, base_url=FHIR_BASE, headers=headers)

    return make


async def seed(engine: AsyncEngine, *resources: dict) -> None:
    """Write test data the way fhircrm's own services do (no caller policy)."""
    from fhircrm.fhir.store import Operation

    async with engine.begin() as conn:
        await open_store(conn, policy=TESTS).apply([Operation("PUT", r["resourceType"], r["id"], r) for r in resources])


def clinic() -> list[dict]:
    """Two patients, each with an Appointment, a Communication and a Task; one shared Practitioner."""
    out: list[dict] = [{"resourceType": "Practitioner", "id": "dr-1", "name": [{"family": "Reed"}]}]
    for pid in ("p1", "p2"):
        out += [
            {
                "resourceType": "Patient",
                "id": pid,
                "name": [{"family": f"Family-{pid}"}],
                "generalPractitioner": [{"reference": "Practitioner/dr-1"}],
            },
            {
                "resourceType": "Appointment",
                "id": f"appt-{pid}",
                "status": "booked",
                "start": "2026-12-01T09:00:00Z",
                "end": "2026-12-01T09:30:00Z",
                "participant": [
                    {"actor": {"reference": f"Patient/{pid}"}, "status": "accepted"},
                    {"actor": {"reference": "Practitioner/dr-1"}, "status": "accepted"},
                ],
            },
            {
                "resourceType": "Communication",
                "id": f"msg-{pid}",
                "status": "completed",
                "subject": {"reference": f"Patient/{pid}"},
                "recipient": [{"reference": f"Patient/{pid}"}],
                "category": [{"coding": [{"system": "http://fhircrm.org/CodeSystem/channel", "code": "sms"}]}],
            },
            {
                "resourceType": "Task",
                "id": f"task-{pid}",
                "status": "ready",
                "intent": "order",
                "for": {"reference": f"Patient/{pid}"},
                "focus": {"reference": f"Appointment/appt-{pid}"},
            },
        ]
    return out


# --- the two-site clinic of roles_clinic, with roles enforced ---------------------------------------------------

USER_SCOPES = "openid fhirUser user/*.cruds"
Client = Callable[..., httpx.AsyncClient]


def client_of(app: FastAPI, bearer: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    headers = {"Accept": "application/fhir+json", "Authorization": f"Bearer {bearer}"}
    return httpx.AsyncClient(transport=transport, base_url=FHIR_BASE, headers=headers)


@pytest.fixture
async def clinic_app(clean_engine: AsyncEngine, database_url: str) -> AsyncIterator[FastAPI]:
    from tests.security.roles_clinic import two_sites

    await seed(clean_engine, *two_sites())
    async with secured_app(clean_engine, database_url, roles_enforced=True) as app:
        yield app


@pytest.fixture
def as_user(clinic_app: FastAPI) -> Client:
    """``as_user("co-n")``: a client of the API for Practitioner/co-n with user/*.cruds (or ``scope``)."""

    def make(practitioner: str, scope: str = USER_SCOPES, **claims: Any) -> httpx.AsyncClient:
        claims.setdefault("fhirUser", f"Practitioner/{practitioner}")
        return client_of(clinic_app, token(scope, **claims))

    return make
