"""SMART test parts: an EHR issuer's keys and tokens, and fhircrm apps with a protected probe route."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey
from sqlalchemy.ext.asyncio import AsyncEngine

from fhircrm.app import create_app
from fhircrm.config import Settings
from fhircrm.smart import AccessDep, discovery_router, install_resource_server
from fhircrm.smart.devserver import router as dev_router

EHR = "https://ehr.example.org"
EHR_ISSUER = f"{EHR}/oauth2"
EHR_JWKS = f"{EHR}/oauth2/jwks"
EHR_INTROSPECT = f"{EHR}/oauth2/introspect"
FHIR_BASE = "http://testserver/fhir"


def rsa_key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "alg": "RS384", "use": "sig"})


def ec_key(kid: str) -> ECKey:
    return ECKey.generate_key("P-384", parameters={"kid": kid, "alg": "ES384", "use": "sig"})


def jwks(*keys: RSAKey | ECKey) -> dict:
    return {"keys": [k.as_dict(private=False) for k in keys]}


def sign(key: RSAKey | ECKey, claims: dict[str, Any], *, alg: str = "RS384", kid: str | None = "") -> str:
    header: dict[str, Any] = {"alg": alg}
    if kid != "":
        if kid is not None:
            header["kid"] = kid
    elif key.kid:
        header["kid"] = key.kid
    return jwt.encode(header, claims, key, algorithms=[alg])


def access_claims(**overrides: Any) -> dict[str, Any]:
    """Claims an EHR would put in a valid access token for fhircrm; ``None`` removes a claim."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": EHR_ISSUER,
        "aud": FHIR_BASE,
        "sub": "practitioner-7",
        "client_id": "crm-app",
        "scope": "launch openid fhirUser patient/Task.rs patient/Communication.cruds",
        "patient": "pat-1",
        "fhirUser": "Practitioner/7",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def add_probe(app: FastAPI) -> None:
    """``GET /fhir/_probe/{type}``: requires read access on ``type`` and echoes the caller (tests only)."""

    @app.get("/fhir/_probe/{resource_type}")
    async def probe(resource_type: str, access: AccessDep) -> dict:
        permission = access.require("read", resource_type)
        return {
            "subject": access.subject,
            "client_id": access.client_id,
            "patient": access.patient,
            "fhirUser": access.fhir_user,
            "jti": access.jti,
            "scopes": list(access.scopes.raw),
            "unrestricted": permission.unrestricted,
            "development": access.development,
        }


def probe_app(http: httpx.AsyncClient, *, engine: AsyncEngine | None = None, **settings: Any) -> FastAPI:
    """fhircrm as the lead will wire it: SMART discovery, the dev server at /auth, the resource-server check."""
    config = Settings(environment="test", base_url=FHIR_BASE, **settings)
    app = create_app(config, migrate=False)
    app.state.engine = engine  # the lifespan is not run under ASGITransport
    app.state.http = http
    install_resource_server(app, config, http)
    generic = list(app.router.routes)
    app.router.routes.clear()  # ours first: the generic /fhir/{type}/{id} route would shadow them
    app.include_router(discovery_router, prefix="/fhir")
    app.include_router(dev_router, prefix="/auth")
    add_probe(app)
    app.router.routes.extend(generic)
    return app


def asgi_client(app: FastAPI, base_url: str = "http://testserver") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url=base_url)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """The shared outbound client (what the lifespan would create); respx fakes the EHR behind it."""
    async with httpx.AsyncClient() as client:
        yield client
