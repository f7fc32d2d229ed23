"""``/token`` and ``/introspect`` of the development server.

Grants: ``authorization_code`` (with the PKCE ``code_verifier``; each code works once, across processes),
``refresh_token`` (same client, same or fewer scopes) and ``client_credentials`` (SMART Backend Services:
a ``private_key_jwt`` assertion, system scopes only). Errors are RFC 6749 JSON, never cached.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from fhircrm.smart.client_assertion import CLIENT_ASSERTION_TYPE, verify_client_assertion
from fhircrm.smart.clients import OAuthError, RegisteredClient
from fhircrm.smart.devserver.server import DevAuthServer, get_dev_server
from fhircrm.smart.scopes import Scopes

router = APIRouter()
ServerDep = Annotated[DevAuthServer, Depends(get_dev_server)]
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


def pkce_challenge(verifier: str) -> str:
    """S256: BASE64URL(SHA256(ASCII(code_verifier))) without padding (RFC 7636 4.2)."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


def _json(body: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=NO_STORE)


def _error(exc: OAuthError) -> JSONResponse:
    headers = dict(NO_STORE)
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="fhircrm-dev-auth"'
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers)


async def authenticate(server: DevAuthServer, request: Request, form: dict[str, str]) -> RegisteredClient:
    """The calling client: by assertion, by HTTP Basic, or (public clients) by client_id alone."""
    if "client_assertion" in form or "client_assertion_type" in form:
        if form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE:
            raise OAuthError("invalid_client", "client_assertion_type must be jwt-bearer")
        return await verify_client_assertion(
            form.get("client_assertion", ""),
            lookup=server.client,
            token_url=server.token_url,
            jti_store=server.jti,
            http=server.http,
        )
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            client_id, _, secret = base64.b64decode(credentials, validate=True).decode().partition(":")
        except ValueError as exc:
            raise OAuthError("invalid_client", "malformed Basic credentials") from exc
        client = server.client(client_id)
        if client is None or client.auth_method != "client_secret_basic" or not client.secret_matches(secret):
            raise OAuthError("invalid_client", "unknown client or wrong secret")
        return client
    client_id = form.get("client_id", "")
    if not client_id:
        raise OAuthError("invalid_client", "the client is not identified")
    client = server.client(client_id)
    if client is not None and client.auth_method != "none":
        raise OAuthError("invalid_client", "this client must authenticate")
    return client or RegisteredClient(client_id)


async def _authorization_code(server: DevAuthServer, client: RegisteredClient, form: dict[str, str]) -> dict:
    claims = server.open(form.get("code", ""), "code", server.token_url)
    if claims.get("client_id") != client.client_id:
        raise OAuthError("invalid_grant", "the code was issued to another client")
    if claims.get("redirect_uri") != form.get("redirect_uri"):
        raise OAuthError("invalid_grant", "redirect_uri differs from the authorization request")
    verifier = form.get("code_verifier", "")
    if not _VERIFIER.match(verifier):
        raise OAuthError("invalid_grant", "code_verifier is missing or malformed")
    if not hmac.compare_digest(pkce_challenge(verifier), str(claims.get("code_challenge", ""))):
        raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge")
    if not await server.burn(claims):
        raise OAuthError("invalid_grant", "the code was already used")
    return server.access_token(
        client_id=client.client_id, scope=claims["scope"], context=claims, subject=claims.get("fhirUser")
    )


def _narrowed(granted: str, requested: str | None) -> str:
    if not requested:
        return granted
    wanted, allowed = requested.split(), set(granted.split())
    if not set(wanted) <= allowed:
        raise OAuthError("invalid_scope", "a refresh cannot add scopes")
    return " ".join(wanted)


async def _refresh_token(server: DevAuthServer, client: RegisteredClient, form: dict[str, str]) -> dict:
    claims = server.open(form.get("refresh_token", ""), "refresh", server.token_url)
    if claims.get("client_id") != client.client_id:
        raise OAuthError("invalid_grant", "the refresh token was issued to another client")
    scope = _narrowed(claims["scope"], form.get("scope"))
    response = server.access_token(client_id=client.client_id, scope=scope, context=claims, subject=claims.get("sub"))
    response.setdefault("refresh_token", form["refresh_token"])
    return response


async def _client_credentials(server: DevAuthServer, client: RegisteredClient, form: dict[str, str]) -> dict:
    if client.auth_method == "none":
        raise OAuthError("unauthorized_client", "client_credentials needs an authenticated client")
    scopes = Scopes.parse(form.get("scope", ""))
    system = [s.raw for s in scopes.resources if s.context == "system"]
    if not system:
        raise OAuthError("invalid_scope", "client_credentials grants system/ scopes only")
    return server.access_token(client_id=client.client_id, scope=" ".join(system), context={}, subject=None)


GRANTS = {
    "authorization_code": _authorization_code,
    "refresh_token": _refresh_token,
    "client_credentials": _client_credentials,
}


@router.post("/token", summary="Token endpoint (development only)")
async def token(request: Request, server: ServerDep) -> JSONResponse:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    grant = GRANTS.get(form.get("grant_type", ""))
    try:
        if grant is None:
            raise OAuthError("unsupported_grant_type", "grant_type is not supported")
        client = await authenticate(server, request, form)
        return _json(await grant(server, client, form))
    except OAuthError as exc:
        return _error(exc)


@router.post("/introspect", summary="Token introspection, RFC 7662 (development only)")
async def introspect(request: Request, server: ServerDep) -> JSONResponse:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    try:
        caller = await authenticate(server, request, form)
        if caller.auth_method == "none":
            raise OAuthError("invalid_client", "introspection is for authenticated clients")
        claims = server.open(form.get("token", ""), "access", server.audience)
    except OAuthError as exc:
        if exc.error == "invalid_client":
            return _error(exc)
        return _json({"active": False})
    return _json({"active": True, "token_type": "Bearer", **{k: v for k, v in claims.items() if k != "use"}})
