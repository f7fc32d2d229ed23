"""The signed-in session of a request, with its access token refreshed when it is about to expire."""

from __future__ import annotations

import time
from typing import Annotated

import httpx
from fastapi import Depends, Request

from fhircrm.config import Settings
from fhircrm.errors import SignInRequired
from fhircrm.smartapp.client import LaunchRefused, refresh
from fhircrm.smartapp.sessions import COOKIE, AppSession, SessionStore

REFRESH_MARGIN = 60  # seconds before expiry at which the token is renewed


def session_store(request: Request) -> SessionStore:
    settings: Settings = request.app.state.settings
    return SessionStore(request.app.state.engine, settings.app_session_hours)


def http_client(request: Request) -> httpx.AsyncClient:
    http = getattr(request.app.state, "http", None)
    if http is None:  # no lifespan (tests that build the app by hand): one client for the app's life
        http = request.app.state.http = httpx.AsyncClient()
    return http


def remember_tokens(session: AppSession, response: dict) -> None:
    """Keep what a token response says (server-side only)."""
    session.data["access_token"] = response["access_token"]
    if response.get("refresh_token"):
        session.data["refresh_token"] = response["refresh_token"]
    session.data["expires_at"] = time.time() + float(response.get("expires_in", 300))
    session.data["scope"] = response.get("scope", session.data.get("scope", ""))


async def current_session(request: Request) -> AppSession:
    store = session_store(request)
    session = await store.load(request.cookies.get(COOKIE))
    if session is None or not session.signed_in:
        raise SignInRequired("Open fhircrm from your EHR (or start a standalone launch) to sign in.")
    if float(session.data.get("expires_at", 0)) - REFRESH_MARGIN < time.time():
        await _renew(request, store, session)
    return session


async def _renew(request: Request, store: SessionStore, session: AppSession) -> None:
    settings: Settings = request.app.state.settings
    token, url = session.data.get("refresh_token"), session.data.get("token_url")
    if not token or not url:
        await store.delete(session)
        raise SignInRequired("Your session has expired: launch fhircrm again from your EHR.")
    try:
        response = await refresh(http_client(request), url, refresh_token=token, client_id=settings.app_client_id)
    except LaunchRefused as exc:
        await store.delete(session)
        raise SignInRequired(f"Your session could not be renewed ({exc}): launch fhircrm again.") from exc
    if response.get("patient") and response["patient"] != session.patient:
        await store.delete(session)
        raise SignInRequired("The renewed token is for another patient: launch fhircrm again.")
    remember_tokens(session, response)
    await store.save(session)


AppSessionDep = Annotated[AppSession, Depends(current_session)]
