"""``/authorize`` of the development server: the authorization-code grant with PKCE (S256 only).

``GET`` checks the request and shows a confirmation page (development only: no login, one click approves);
``POST`` re-checks the same parameters (hidden fields are not trusted) and redirects with a code or an error.
Until the client and redirect_uri are known good, errors are shown as a page, never redirected (RFC 6749 4.1.2.1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape
from typing import Annotated
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from fhircrm.errors import PageError
from fhircrm.smart.clients import OAuthError
from fhircrm.smart.devserver.directory import Choice, choices
from fhircrm.smart.devserver.server import CODE_SECONDS, DevAuthServer, get_dev_server
from fhircrm.smart.scopes import Scopes

router = APIRouter()
ServerDep = Annotated[DevAuthServer, Depends(get_dev_server)]
PARAMS = ("response_type", "client_id", "redirect_uri", "scope", "state", "aud", "code_challenge")
OPTIONAL = ("code_challenge_method", "launch", "nonce")
_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # base64url(SHA-256), unpadded


@dataclass
class AuthorizationRequest:
    params: dict[str, str]
    context: dict[str, str]

    def redirect(self, **values: str) -> RedirectResponse:
        state = {"state": self.params["state"]} if self.params.get("state") else {}
        query = urlencode({**values, **state})
        separator = "&" if "?" in self.params["redirect_uri"] else "?"
        return RedirectResponse(f"{self.params['redirect_uri']}{separator}{query}", status_code=303)


def _check_client(server: DevAuthServer, params: dict[str, str]) -> None:
    client_id, redirect_uri = params.get("client_id", ""), params.get("redirect_uri", "")
    if not client_id:
        raise PageError("client_id is missing")
    parts = urlsplit(redirect_uri)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
        raise PageError("redirect_uri must be an absolute http(s) URL without a fragment")
    client = server.client(client_id)
    if client is not None and redirect_uri not in client.redirect_uris:
        raise PageError("redirect_uri is not registered for this client")
    # Unregistered client_ids are accepted as public clients: this server is for development only.


async def _check(server: DevAuthServer, params: dict[str, str]) -> AuthorizationRequest:
    _check_client(server, params)
    if not params.get("state"):
        raise OAuthError("invalid_request", "state is required")
    if params.get("response_type") != "code":
        raise OAuthError("unsupported_response_type", "only response_type=code is supported")
    if params.get("aud", "").rstrip("/") != server.audience:
        raise OAuthError("invalid_request", "aud must be this FHIR server's base URL")
    if params.get("code_challenge_method") != "S256" or not _CHALLENGE.match(params.get("code_challenge", "")):
        raise OAuthError("invalid_request", "PKCE is required: code_challenge with code_challenge_method=S256")
    if not params.get("scope", "").strip():
        raise OAuthError("invalid_scope", "scope is required")
    context: dict[str, str] = {}
    if params.get("launch"):
        claims = server.open(params["launch"], "launch", server.authorize_url, error="invalid_request")
        context = {k: claims[k] for k in ("patient", "encounter", "fhirUser") if isinstance(claims.get(k), str)}
    if params.get("nonce"):
        context["nonce"] = params["nonce"]
    return AuthorizationRequest(params, context)


def _params(source: dict) -> dict[str, str]:
    return {k: str(source[k]) for k in (*PARAMS, *OPTIONAL) if source.get(k)}


async def _handle(server: DevAuthServer, params: dict[str, str]) -> AuthorizationRequest | HTMLResponse:
    try:
        return await _check(server, params)
    except PageError as exc:
        return HTMLResponse(_page("Authorization request refused", f"<p>{escape(str(exc))}</p>"), status_code=400)


@router.get("/authorize", response_model=None, summary="Authorize (development only)")
async def authorize_page(request: Request, server: ServerDep) -> HTMLResponse | RedirectResponse:
    params = _params(dict(request.query_params))
    try:
        checked = await _handle(server, params)
    except OAuthError as exc:
        return AuthorizationRequest(params, {}).redirect(error=exc.error, error_description=exc.description)
    if isinstance(checked, HTMLResponse):
        return checked
    scopes = Scopes.parse(params["scope"])
    offered = await choices(
        request.app.state.engine,
        server.settings,
        people=scopes.has("fhirUser") and "fhirUser" not in checked.context,
        patients="patient" in scopes.launch_contexts and "patient" not in checked.context,
    )
    return HTMLResponse(_confirmation(checked, offered))


@router.post("/authorize", response_model=None, summary="Approve or deny (development only)")
async def authorize_decision(request: Request, server: ServerDep) -> HTMLResponse | RedirectResponse:
    form = await request.form()
    params = _params({k: v for k, v in form.items() if isinstance(v, str)})
    try:
        checked = await _handle(server, params)
    except OAuthError as exc:
        return AuthorizationRequest(params, {}).redirect(error=exc.error, error_description=exc.description)
    if isinstance(checked, HTMLResponse):
        return checked
    if form.get("decision") != "approve":
        return checked.redirect(error="access_denied", error_description="the user denied the request")
    context = dict(checked.context)
    for name in ("patient", "fhirUser"):  # standalone launch: picked on the page
        value = form.get(name)
        if isinstance(value, str) and value.strip() and name not in context:
            context[name] = value.strip()
    code = server.mint(
        "code",
        server.token_url,
        CODE_SECONDS,
        {
            "client_id": params["client_id"],
            "redirect_uri": params["redirect_uri"],
            "scope": " ".join(params["scope"].split()),
            "code_challenge": params["code_challenge"],
            **context,
        },
    )
    return checked.redirect(code=code)


def _select(name: str, label: str, options: list[Choice], *, required: bool, empty: str) -> str:
    items = "".join(f'<option value="{escape(c.value)}">{escape(c.label)}</option>' for c in options)
    blank = f'<option value="">{escape(empty)}</option>'
    attrs = " required" if required else ""
    return f'<p><label>{escape(label)} <select name="{name}"{attrs}>{blank}{items}</select></label></p>'


def _confirmation(checked: AuthorizationRequest, offered: dict[str, list[Choice]] | None = None) -> str:
    params = checked.params
    scopes = Scopes.parse(params["scope"])
    items = "".join(f"<li><code>{escape(s)}</code></li>" for s in scopes.raw)
    hidden = "".join(f'<input type="hidden" name="{k}" value="{escape(v)}">' for k, v in params.items())
    context = "".join(f"<li>{escape(k)}: <code>{escape(v)}</code></li>" for k, v in checked.context.items())
    offered = offered or {}
    picker = ""
    if offered.get("people"):  # who is signing in: the token's fhirUser (their roles decide what they see)
        picker += _select("fhirUser", "Sign in as", offered["people"], required=True, empty="choose a person")
    if "patient" in scopes.launch_contexts and "patient" not in checked.context:
        if offered.get("patients"):
            picker += _select("patient", "Patient", offered["patients"], required=True, empty="choose a patient")
        else:
            picker += '<p><label>Patient id <input name="patient" required></label></p>'
    body = (
        f"<p>The application <strong>{escape(params['client_id'])}</strong> asks for:</p><ul>{items}</ul>"
        + (f"<p>Launch context:</p><ul>{context}</ul>" if context else "")
        + f'<form method="post">{hidden}{picker}'
        + '<button name="decision" value="approve">Approve</button> '
        + '<button name="decision" value="deny" formnovalidate>Deny</button></form>'
    )
    return _page("Authorize application", body)


def _page(title: str, body: str) -> str:
    banner = (
        '<p class="dev-banner">'
        "DEVELOPMENT ONLY: fhircrm's development authorization server. No login, every request can be approved. "
        "Never use it with real patient data.</p>"
    )
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)} (development)</title>'
        '<link rel="stylesheet" href="dev.css">'  # under the pages' CSP (style-src 'self'): no inline styles
        f"</head><body>{banner}<h1>{escape(title)}</h1>{body}</body></html>"
    )
