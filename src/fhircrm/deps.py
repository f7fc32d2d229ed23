"""Request dependencies. The store's transaction commits when the handler returns and rolls back when it
raises, before the response is sent, so a client never reads ahead of a commit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from fhircrm.audit.requests import audit_success
from fhircrm.config import Settings
from fhircrm.fhir.access import ServiceScope
from fhircrm.fhir.store import FhirStore
from fhircrm.smart import AccessContext, AccessDep, Scopes
from fhircrm.smart.policy import SmartPolicy
from fhircrm.smart.roles import Staff, applies, resolve_staff
from fhircrm.smartapp.guard import AppSessionDep
from fhircrm.smartapp.sessions import AppSession
from fhircrm.stores import open_store

#: the caller's roles are looked up on fhircrm's behalf: the caller's own scopes need not cover PractitionerRole
ROLE_LOOKUP = ServiceScope("role-lookup")
#: routes whose caller is checked by other means than a bearer token (``get_service_store``)
SIGNED_ROUTES = ServiceScope("signed-routes")


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_engine(request: Request) -> AsyncEngine:
    return request.app.state.engine


async def get_store(request: Request, access: AccessDep) -> AsyncIterator[FhirStore]:
    """The store scoped to the caller's access; the request is audited in the same transaction."""
    settings: Settings = request.app.state.settings
    async with request.app.state.engine.begin() as conn:
        if conn.dialect.name == "postgresql" and settings.statement_timeout_ms:
            # slow-query protection: no single statement of an API request may run away with the database
            await conn.exec_driver_sql(f"SET LOCAL statement_timeout = {int(settings.statement_timeout_ms)}")
        access, staff = await with_roles(conn, settings, access, request=request)
        store = open_store(conn, settings, policy=SmartPolicy(access, staff))
        yield store
        await audit_success(conn, request, store.accessed)


async def with_roles(
    conn: AsyncConnection, settings: Settings, access: AccessContext, *, request: Request, session: bool = False
) -> tuple[AccessContext, Staff | None]:
    """The caller's fhircrm roles, looked up once per request on its own connection (``fhircrm.smart.roles``);
    None when roles do not apply: not enforced, development access, tokens without user/ grants. A UI session
    (``session``) always gets them when enforced: its pages are for roles, whatever its scopes.

    Kept on ``request.state`` (``access`` for the audit, ``staff`` for the UI's page guards)."""
    staff = None
    if settings.roles_enforced and (applies(access, settings) or session):
        staff = await resolve_staff(open_store(conn, settings, policy=ROLE_LOOKUP), access.fhir_user, settings)
        access = replace(access, roles=tuple(sorted(staff.roles)))
    request.state.access = access
    request.state.staff = staff
    return access, staff


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[FhirStore, Depends(get_store, scope="function")]


async def get_service_store(request: Request) -> AsyncIterator[FhirStore]:
    """A store for routes that authenticate their caller by other means than a bearer token: provider webhooks
    (signatures), signed survey and chat links, the UI (its server-side session). Those routes check their caller
    before they touch data; the store works for fhircrm (``SIGNED_ROUTES``) and narrows nothing."""
    settings: Settings = request.app.state.settings
    async with request.app.state.engine.begin() as conn:
        yield open_store(conn, settings, policy=SIGNED_ROUTES)


ServiceStoreDep = Annotated[FhirStore, Depends(get_service_store, scope="function")]


def session_access(request: Request, session: AppSession) -> AccessContext:
    """The signed-in person's access, from the SMART app session's token response (scope, patient, fhirUser)."""
    settings: Settings = request.app.state.settings
    return AccessContext(
        subject=session.fhir_user,
        client_id=settings.app_client_id,
        scopes=Scopes.parse(session.scope),
        fhir_user=session.fhir_user,
        patient=session.patient,
        encounter=session.encounter,
    )


async def get_session_store(request: Request, session: AppSessionDep) -> AsyncIterator[FhirStore]:
    """The UI's store: scoped to what the session's token and the person's roles allow (the same SmartPolicy as
    the API), each page audited like an API request."""
    settings: Settings = request.app.state.settings
    access = request.state.access = session_access(request, session)
    async with request.app.state.engine.begin() as conn:
        access, staff = await with_roles(conn, settings, access, request=request, session=True)
        store = open_store(conn, settings, policy=SmartPolicy(access, staff))
        yield store
        await audit_success(conn, request, store.accessed)


SessionStoreDep = Annotated[FhirStore, Depends(get_session_store, scope="function")]
