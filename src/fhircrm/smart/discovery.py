"""How SMART apps find the authorization server: ``/fhir/.well-known/smart-configuration`` (SMART App Launch 2.x)
and ``rest.security`` of the CapabilityStatement, with the ``oauth-uris`` extension python-fhirclient reads.

The endpoints are the EHR's (``FHIRCRM_AUTH_*``); with the development authorization server enabled, any that
are not set explicitly point at it.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from fhircrm.config import Settings
from fhircrm.errors import NotFound

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


def smart_configuration(settings: Settings) -> dict:
    """The SMART App Launch 2.x discovery document."""
    urls = endpoints(settings)
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


def security_block(settings: Settings) -> dict | None:
    """``CapabilityStatement.rest.security``, or None when no authorization server is configured."""
    urls = endpoints(settings)
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
    if not endpoints(settings).configured:
        raise NotFound("no SMART authorization server is configured")
    return JSONResponse(smart_configuration(settings), headers={"Cache-Control": "public, max-age=3600"})
