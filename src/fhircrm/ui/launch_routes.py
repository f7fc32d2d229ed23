"""``/app/launch`` (EHR and standalone), ``/app/callback`` and ``/app/logout``: the SMART App Launch flow's pages.

The flow itself (discovery, PKCE, token exchange, sessions) is ``fhircrm.smartapp``; these are pages of the app,
so they live with the others and share their templates, error pages and CSRF check.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from fhircrm.config import Settings
from fhircrm.smartapp.client import (
    LaunchRefused,
    ServerConfig,
    authorize_url,
    discover,
    exchange_code,
    pkce_pair,
    verified_id_claims,
)
from fhircrm.smartapp.guard import http_client, remember_tokens, session_store
from fhircrm.smartapp.person import signed_in_name
from fhircrm.smartapp.sessions import COOKIE, AppSession
from fhircrm.ui.web import PageError, PageRoute, check_csrf, templates

router = APIRouter(prefix="/app", route_class=PageRoute, include_in_schema=False)


def _allowed(settings: Settings, iss: str) -> bool:
    allowed = settings.app_allowed_issuers or [settings.base_url]
    return iss.rstrip("/") in {a.rstrip("/") for a in allowed}


def _set_cookie(request: Request, response: Response, session: AppSession) -> None:
    settings: Settings = request.app.state.settings
    secure = request.url.scheme == "https" or settings.app_cookie_samesite == "none"
    response.set_cookie(
        COOKIE,
        session.token,
        max_age=int(settings.app_session_hours * 3600),
        httponly=True,
        secure=secure,
        samesite=settings.app_cookie_samesite,
        path="/",
    )


def _scope(settings: Settings, ehr_launch: bool, *, staff: bool = False) -> str:
    """An EHR launch asks for ``app_scope``; a standalone patient launch swaps ``launch`` for ``launch/patient``
    (the authorization server picks the patient); a staff sign-in asks for ``app_staff_scope`` (no patient)."""
    if staff:
        return " ".join(dict.fromkeys(settings.app_staff_scope.split()))
    words = settings.app_scope.split()
    if not ehr_launch:  # standalone: ask the authorization server to pick the patient
        words = ["launch/patient" if w == "launch" else w for w in words]
    return " ".join(dict.fromkeys(words))


@router.get("/", name="smartapp_start")
async def start(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    return templates.TemplateResponse(request, "start.html", {"session": None, "iss": settings.base_url})


@router.get("/launch", name="smartapp_launch")
async def launch(request: Request, iss: str | None = None, launch: str | None = None) -> Response:
    """EHR launch (``iss`` and ``launch`` from the EHR) or standalone launch for one patient (no ``launch``)."""
    return await _begin(request, iss, launch or "", staff=False)


@router.get("/sign-in", name="smartapp_staff")
async def staff_sign_in(request: Request, iss: str | None = None) -> Response:
    """Standalone staff sign-in: ``user/`` scopes and no patient, for the clinic's worklist, inbox and dashboard."""
    return await _begin(request, iss, "", staff=True)


async def _begin(request: Request, iss: str | None, launch: str, *, staff: bool) -> Response:
    settings: Settings = request.app.state.settings
    iss = (iss or settings.base_url).rstrip("/")
    if not _allowed(settings, iss):
        raise PageError("this FHIR server is not one fhircrm is configured to work with", status=400)
    try:
        config = await discover(http_client(request), iss)
    except LaunchRefused as exc:
        raise PageError(str(exc), status=502, title="Launch failed") from exc
    store = session_store(request)
    session = await store.load(request.cookies.get(COOKIE)) or await store.new()
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(24)
    redirect_uri = settings.app_redirect_url or str(request.url_for("smartapp_callback"))
    session.add_pending(state, {"config": config.as_dict(), "verifier": verifier, "redirect_uri": redirect_uri})
    await store.save(session)
    url = authorize_url(
        config,
        client_id=settings.app_client_id,
        redirect_uri=redirect_uri,
        scope=_scope(settings, bool(launch), staff=staff),
        state=state,
        challenge=challenge,
        launch=launch,
    )
    response = RedirectResponse(url, status_code=302)
    _set_cookie(request, response, session)
    return response


@router.get("/callback", name="smartapp_callback")
async def callback(
    request: Request, state: str = "", code: str = "", error: str = "", error_description: str = ""
) -> Response:
    settings: Settings = request.app.state.settings
    store = session_store(request)
    session = await store.load(request.cookies.get(COOKIE))
    pending = session.take_pending(state) if session else None
    if session is None or pending is None:
        raise PageError("the launch state does not match a launch started in this browser", title="Launch refused")
    await store.save(session)  # the state is spent, whatever happens next
    if error:
        raise PageError(f"the authorization server refused: {error}", status=403, title="Launch refused")
    config = ServerConfig(**pending["config"])
    http = http_client(request)
    try:
        tokens = await exchange_code(
            http,
            config,
            code=code,
            verifier=str(pending.get("verifier") or ""),
            redirect_uri=pending["redirect_uri"],
            client_id=settings.app_client_id,
        )
        claims = {}
        if tokens.get("id_token"):
            claims = await verified_id_claims(http, config, tokens["id_token"], client_id=settings.app_client_id)
    except LaunchRefused as exc:
        raise PageError(str(exc), status=403, title="Launch refused") from exc
    remember_tokens(session, tokens)
    session.data.update(
        iss=config.iss,
        token_url=config.token,
        patient=tokens.get("patient"),
        encounter=tokens.get("encounter"),
        fhir_user=claims.get("fhirUser") or tokens.get("fhirUser"),
        need_patient_banner=bool(tokens.get("need_patient_banner", True)),
    )
    fhir_user = session.data.get("fhir_user")
    session.data["user_name"] = await signed_in_name(request.app.state.engine, settings, fhir_user)
    session = await store.rotate(session)  # a fresh cookie once signed in
    target = f"/ui/patients/{session.patient}" if session.patient else "/ui/worklist"
    response = RedirectResponse(target, status_code=303)
    _set_cookie(request, response, session)
    return response


@router.post("/logout", name="smartapp_logout")
async def logout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    store = session_store(request)
    session = await store.load(request.cookies.get(COOKIE))
    if session is not None:
        check_csrf(request, session.csrf, csrf)
        await store.delete(session)
    response = RedirectResponse(str(request.url_for("smartapp_start")), status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
