"""How SMART apps find the authorization server: ``/fhir/.well-known/smart-configuration`` (SMART App Launch 2.x)
and ``rest.security`` of the CapabilityStatement, with the ``oauth-uris`` extension python-fhirclient reads.

The endpoints are the EHR's (``FHIRCRM_AUTH_*``); with the development authorization server enabled, any that
are not set explicitly point at it. With authorization on and the authorize/token URLs not set, they are read at
start-up from the issuer's own discovery document (``{issuer}/.well-known/smart-configuration``, then
``/.well-known/openid-configuration``); if neither names them, fhircrm refuses to start and says what to set.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from fhircrm.config import Settings
from fhircrm.errors import NotFound

log = logging.getLogger(__name__)
OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
CAPABILITIES = [
    "launch-ehr",
    "launch-standalone",
    "client-public",
    "client-confidential-symmetric",
    "client-confidential-asymmetric",
    "context-ehr-patient",
    "context-standalone-patient",
    "permission-v1",
    "permission-v2",
    "permission-patient",
    "permission-user",
    "sso-openid-connect",
]
SCOPES_SUPPORTED = [
    "openid",
    "fhirUser",
    "launch",
    "launch/patient",
    "offline_access",
    "online_access",
    "patient/*.rs",
    "user/*.rs",
    "user/*.cruds",
    "system/*.rs",
    "system/*.cruds",
    "patient/*.read",
    "user/*.read",
    "user/*.write",
    "system/*.read",
]

router = APIRouter()


@dataclass(frozen=True, slots=True)
class Endpoints:
    issuer: str | None
    jwks_uri: str | None
    authorize: str | None
    token: str | None
    introspect: str | None

    @property
    def configured(self) -> bool:
        return bool(self.authorize and self.token)


def dev_issuer(settings: Settings) -> str:
    """The development server's issuer: ``FHIRCRM_DEV_AUTH_ISSUER``, else the FHIR base with /fhir -> /auth."""
    if settings.dev_auth_issuer:
        return settings.dev_auth_issuer.rstrip("/")
    base = settings.base_url.rstrip("/")
    return (base.removesuffix("/fhir") if base.endswith("/fhir") else base) + "/auth"


def endpoints(settings: Settings) -> Endpoints:
    dev = dev_issuer(settings) if settings.dev_auth_enabled else None
    return Endpoints(
        issuer=settings.auth_issuer or dev,
        jwks_uri=settings.auth_jwks_url or (dev and f"{dev}/jwks"),
        authorize=settings.auth_authorize_url or (dev and f"{dev}/authorize"),
        token=settings.auth_token_url or (dev and f"{dev}/token"),
        introspect=settings.auth_introspection_url or (dev and f"{dev}/introspect"),
    )


class DiscoveryError(RuntimeError):
    """Authorization is on but SMART clients could not find the authorization server: do not start."""


async def _issuer_document(http: httpx.AsyncClient, issuer: str) -> tuple[dict | None, list[str]]:
    """The first discovery document of ``issuer`` that names both endpoints, and what went wrong before it."""
    problems = []
    for path in ("/.well-known/smart-configuration", "/.well-known/openid-configuration"):
        url = issuer.rstrip("/") + path
        try:
            response = await http.get(url, headers={"Accept": "application/json"}, timeout=10)
            document = response.json() if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError) as exc:
            problems.append(f"{url}: {type(exc).__name__}")
            continue
        if not isinstance(document, dict):
            problems.append(f"{url}: HTTP {response.status_code}")
        elif not (document.get("authorization_endpoint") and document.get("token_endpoint")):
            problems.append(f"{url}: no authorization_endpoint and token_endpoint")
        else:
            return document, problems
    return None, problems


async def resolve_endpoints(settings: Settings, http: httpx.AsyncClient) -> Endpoints:
    """The endpoints to publish: the configured ones, else the issuer's own (``DiscoveryError`` if neither)."""
    urls = endpoints(settings)
    if settings.auth_mode == "none" or urls.configured:
        return urls
    document, problems = (None, ["FHIRCRM_AUTH_ISSUER is not set"])
    if urls.issuer:
        document, problems = await _issuer_document(http, urls.issuer)
    if document is None:
        raise DiscoveryError(
            f"FHIRCRM_AUTH_MODE={settings.auth_mode}: SMART clients could not find the authorization server "
            f"({'; '.join(problems)}). Set FHIRCRM_AUTH_AUTHORIZE_URL and FHIRCRM_AUTH_TOKEN_URL, or set "
            "FHIRCRM_AUTH_ISSUER to an issuer that publishes /.well-known/smart-configuration or "
            "/.well-known/openid-configuration."
        )
    log.info("SMART endpoints read from the issuer's discovery document")
    return dataclasses.replace(
        urls,
        authorize=urls.authorize or document["authorization_endpoint"],
        token=urls.token or document["token_endpoint"],
        introspect=urls.introspect or document.get("introspection_endpoint"),
        jwks_uri=urls.jwks_uri or document.get("jwks_uri"),
    )


async def publish_discovery(app: FastAPI, settings: Settings, http: httpx.AsyncClient) -> None:
    """Start-up: what ``/.well-known/smart-configuration`` and ``rest.security`` publish (or refuse to start)."""
    urls = await resolve_endpoints(settings, http)
    app.state.smart_endpoints = urls
    app.state.capability_security = security_block(settings, urls)


def smart_configuration(settings: Settings, urls: Endpoints | None = None) -> dict:
    """The SMART App Launch 2.x discovery document."""
    urls = urls or endpoints(settings)
    document: dict = {
        "issuer": urls.issuer,
        "jwks_uri": urls.jwks_uri,
        "authorization_endpoint": urls.authorize,
        "token_endpoint": urls.token,
        "introspection_endpoint": urls.introspect,
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_basic"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
        "scopes_supported": SCOPES_SUPPORTED,
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "capabilities": CAPABILITIES,
    }
    return {k: v for k, v in document.items() if v is not None}


def security_block(settings: Settings, urls: Endpoints | None = None) -> dict | None:
    """``CapabilityStatement.rest.security``, or None when no authorization server is configured."""
    urls = urls or endpoints(settings)
    if not urls.configured:
        return None
    uris = [("token", urls.token), ("authorize", urls.authorize), ("introspect", urls.introspect)]
    return {
        "cors": True,
        "service": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                        "code": "SMART-on-FHIR",
                        "display": "SMART-on-FHIR",
                    }
                ],
                "text": "OAuth2 using SMART-on-FHIR profile (see /.well-known/smart-configuration)",
            }
        ],
        "extension": [{"url": OAUTH_URIS, "extension": [{"url": name, "valueUri": uri} for name, uri in uris if uri]}],
        "description": "Bearer access tokens from the SMART authorization server; scopes v1 and v2.",
    }


@router.get("/.well-known/smart-configuration", summary="SMART App Launch discovery")
async def well_known_smart_configuration(request: Request) -> JSONResponse:
    settings: Settings = request.app.state.settings
    urls = getattr(request.app.state, "smart_endpoints", None) or endpoints(settings)
    if not urls.configured:
        raise NotFound("no SMART authorization server is configured")
    return JSONResponse(smart_configuration(settings, urls), headers={"Cache-Control": "public, max-age=3600"})
