"""``require_access``: the FastAPI dependency that turns ``Authorization: Bearer`` into an ``AccessContext``.

The validator lives on ``app.state.token_validator``; ``install_resource_server(app, settings, http)`` puts it
there from the lifespan with the shared ``httpx.AsyncClient``. If nothing installed one, the first request
builds it from ``app.state.settings`` and ``app.state.http`` (or a client of its own).
"""

from __future__ import annotations

import re
from typing import Annotated

import httpx
from fastapi import Depends, FastAPI, Request

from fhircrm.config import Settings
from fhircrm.smart.claims import check_fhir_user
from fhircrm.smart.context import AccessContext
from fhircrm.smart.errors import InvalidBearerRequest, MissingToken
from fhircrm.smart.validators import TokenValidator, build_validator

#: RFC 6750 b64token.
_B64TOKEN = re.compile(r"^[A-Za-z0-9\-._~+/]+=*$")
MAX_TOKEN_CHARS = 16 * 1024


def install_resource_server(app: FastAPI, settings: Settings, http: httpx.AsyncClient) -> None:
    """Call once (lifespan or create_app): the token validator for ``settings``."""
    app.state.token_validator = build_validator(settings, http)
    app.state.token_validator_mode = settings.auth_mode


def bearer_token(request: Request) -> str:
    """The bearer token of the request; MissingToken (401) or InvalidBearerRequest (400)."""
    header = request.headers.get("authorization")
    if not header:
        raise MissingToken()
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise MissingToken(f"{scheme[:20]} credentials are not accepted; use Authorization: Bearer <token>")
    token = token.strip()
    if not token:
        raise InvalidBearerRequest("the Authorization header has no token after Bearer")
    if len(token) > MAX_TOKEN_CHARS or not _B64TOKEN.match(token):
        raise InvalidBearerRequest("the bearer token is malformed")
    return token


def _validator(request: Request) -> TokenValidator | None:
    state = request.app.state
    settings: Settings = state.settings
    if getattr(state, "token_validator_mode", None) != settings.auth_mode:
        http = getattr(state, "http", None)
        if http is None:
            http = state.smart_http = httpx.AsyncClient()
        state.token_validator = build_validator(settings, http)
        state.token_validator_mode = settings.auth_mode
    return state.token_validator


async def require_access(request: Request) -> AccessContext:
    """The caller's AccessContext; with ``auth_mode=none`` (development only) an all-access context."""
    validator = _validator(request)
    if validator is None:
        return AccessContext.development_access()
    claims = await validator.validate(bearer_token(request))
    access = AccessContext.from_claims(claims)
    request.state.access = access  # for audit logging further down
    settings: Settings = request.app.state.settings
    check_fhir_user(access.fhir_user, (settings.base_url, settings.ehr_base_url))
    return access


AccessDep = Annotated[AccessContext, Depends(require_access)]
