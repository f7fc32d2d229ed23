"""The ASGI application: the FHIR API under ``/fhir`` (and, as they land, the UI and webhooks)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES

from fhircrm import __version__
from fhircrm.audit.requests import audit_failure
from fhircrm.bulk import routes as bulk_routes
from fhircrm.channels import routes as channel_routes
from fhircrm.complaints import routes as complaint_routes
from fhircrm.compression import CompressionMiddleware
from fhircrm.config import Settings, get_settings
from fhircrm.db import create_engine
from fhircrm.ehr import routes as ehr_routes
from fhircrm.errors import (
    Conflict,
    FhircrmError,
    InternalError,
    Issue,
    MethodNotAllowed,
    NotFound,
    Unavailable,
)
from fhircrm.fhir import bundle_routes, capability, routes
from fhircrm.fhir.operations import Operations
from fhircrm.fhir.operations import validate as validate_operation
from fhircrm.fhir.outcomes import FhirResponse, error_response, operation_outcome
from fhircrm.inbox import routes as inbox_routes
from fhircrm.indicators import routes as indicator_routes
from fhircrm.logs import quiet_query_strings, redact_database_errors, safe_traceback
from fhircrm.messaging import routes as messaging_routes
from fhircrm.migrate import upgrade
from fhircrm.redaction import redact_submitted, validation_refusal
from fhircrm.runtime import Runtime, create_http_client
from fhircrm.security import everything
from fhircrm.security.contain import ContainErrors
from fhircrm.security.middleware import install as install_security
from fhircrm.segments import routes as segment_routes
from fhircrm.shipped_content import install_default_journeys, install_shipped_topics
from fhircrm.smart import discovery_router, install_resource_server, publish_discovery, security_block
from fhircrm.smart.devserver import router as dev_auth_router
from fhircrm.subscriptions import operations as subscription_operations
from fhircrm.subscriptions import routes as subscription_routes
from fhircrm.surveys import routes as survey_routes
from fhircrm.ui import launch_routes
from fhircrm.ui import routes as ui_routes
from fhircrm.waitlist import routes as waitlist_routes
from fhircrm.worker import run_worker

log = logging.getLogger(__name__)

GZIP_EXCLUDED = (
    *DEFAULT_EXCLUDED_CONTENT_TYPES,
    "application/fhir+ndjson",
    "application/ndjson",
    "application/x-ndjson",
)
#: The $operations under /fhir, in the order the CapabilityStatement lists them (fhircrm.fhir.operations).
FHIR_OPERATIONS: tuple[Operations, ...] = (
    everything.OPERATIONS,  # Patient $everything
    bulk_routes.OPERATIONS,  # Bulk Data $export, $import, bulk status and files
    messaging_routes.OPERATIONS,  # FHIR messaging: $process-message
    subscription_operations.OPERATIONS,  # Subscription $status, $events, $replay
    validate_operation.OPERATIONS,  # $validate on every type
)


def create_app(settings: Settings | None = None, *, migrate: bool = True) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url)
        if migrate:
            await upgrade(engine)
            await install_default_journeys(engine, settings)  # a fresh install plans reminders from its first booking
            await install_shipped_topics(engine, settings)  # Subscriptions to the shipped topics work at once
        app.state.engine = engine
        app.state.http = create_http_client()
        await publish_discovery(app, settings, app.state.http)  # with auth on: SMART discovery, or refuse to start
        app.state.runtime = Runtime(settings, engine, app.state.http)
        install_resource_server(app, settings, app.state.http)
        stop = asyncio.Event()
        worker = None
        if settings.runs_embedded_worker and migrate:
            worker = asyncio.create_task(run_worker(app.state.runtime, stop))
        try:
            yield
        finally:
            stop.set()
            if worker is not None:
                await worker
            await app.state.http.aclose()
            await engine.dispose()

    app = FastAPI(
        title="fhircrm",
        version=__version__,
        description="FHIR-native patient engagement server. The FHIR R4 API lives under /fhir.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.capability_security = security_block(settings)
    _install_error_handlers(app)
    app.add_middleware(ContainErrors, answer=_unexpected)  # innermost: no exception reaches the server
    install_security(app, settings)  # request size limit and security headers on every route
    # Outermost: pages, JSON and static files over ~1 KB go compressed (brotli if installed, else gzip) to clients that
    # accept it. Event streams (default) and bulk NDJSON files (streamed, large, fetched by servers) are left as is.
    app.add_middleware(CompressionMiddleware, minimum_size=1024, exclude_content_types=GZIP_EXCLUDED)
    quiet_query_strings()  # HTTP client logs without query strings (they can carry names, phones)
    redact_database_errors()  # no log carries a database error's text (it can quote SQL parameters)
    app.include_router(capability.router_for(FHIR_OPERATIONS), prefix="/fhir", tags=["FHIR"])
    # Before the generic /{resource_type}/... routes: POST /fhir and the $operations.
    app.include_router(bundle_routes.router, prefix="/fhir", tags=["FHIR"])
    for operations in FHIR_OPERATIONS:
        app.include_router(operations.router, prefix="/fhir", tags=[operations.tag])
    app.include_router(discovery_router, prefix="/fhir", tags=["SMART"])  # /fhir/.well-known/smart-configuration
    # The generic /fhir/{resource_type}/... routes after every more specific /fhir route, before the routers of
    # other paths: FastAPI tries routes in order and most requests are FHIR ones (a create went through 39 route
    # matches, now 13; 17% fewer Python calls per request).
    app.include_router(routes.router, prefix="/fhir", tags=["FHIR"])
    app.include_router(subscription_routes.router)  # /ehr/notifications
    app.include_router(ehr_routes.router)  # /ehr/.well-known/jwks.json
    app.include_router(channel_routes.router_for(settings))  # /channels/...: provider webhooks, forms, web chat
    app.include_router(inbox_routes.router)  # /api/inbox
    app.include_router(segment_routes.router)  # /api/segments
    app.include_router(survey_routes.router)  # /survey/{token}: the public survey form
    app.include_router(complaint_routes.router)  # /api/complaints
    app.include_router(indicator_routes.router)  # /api/indicators: dashboard JSON and MeasureReports
    app.include_router(waitlist_routes.router)  # /api/waitlist: a coordinator accepts a slot offer
    app.include_router(dev_auth_router, prefix="/auth")  # development authorization server (404 unless enabled)
    app.include_router(launch_routes.router)  # /app/launch, /app/callback: the SMART app's launch
    app.include_router(ui_routes.router)  # /ui: Patient 360, worklist, inbox, dashboard, admin

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict:
        return {"status": "ok"}

    return app


async def _refused(request: Request, error: FhircrmError) -> FhirResponse:
    """Every refused or failed request is answered with an OperationOutcome and audited."""
    engine = getattr(request.app.state, "engine", None)
    if engine is not None:
        await audit_failure(engine, request, error)
    # every submitted value is redacted, result parameters' too: "_sort=<a patient's name>" is still PHI; the
    # diagnostics still name the parameter and what is wrong with it
    return error_response(redact_submitted(error, (v for _, v in request.query_params.multi_items())))


async def _unexpected(request: Request, exc: Exception) -> FhirResponse:
    log.error("unhandled error: %s", safe_traceback(exc))  # frames, not messages: they can quote PHI
    return await _refused(request, InternalError("internal error"))


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(FhircrmError)
    async def fhircrm_error(request: Request, exc: FhircrmError) -> FhirResponse:
        return await _refused(request, exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> FhirResponse:
        return await _refused(request, validation_refusal(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> FhirResponse:
        # routing's refusals (no such path, method) are refusals like any other: audited under /fhir
        refusal = {404: NotFound("no such endpoint"), 405: MethodNotAllowed("method not allowed on this endpoint")}
        if exc.status_code in refusal:
            error = refusal[exc.status_code]
            return await _refused(request, error) if request.url.path.startswith("/fhir") else error_response(error)
        issue = Issue(str(exc.detail), code="processing")
        return FhirResponse(operation_outcome([issue]), exc.status_code)

    @app.exception_handler(IntegrityError)
    async def integrity_error(request: Request, _exc: IntegrityError) -> FhirResponse:
        # Two writers raced on the same resource: the loser retries; nothing was stored.
        return await _refused(request, Conflict("a concurrent write changed this resource; retry"))

    @app.exception_handler(OperationalError)
    async def operational_error(request: Request, exc: OperationalError) -> FhirResponse:
        log.error("database error: %s", type(exc.orig).__name__)
        return await _refused(request, Unavailable("the database is unavailable, busy or the query too slow; retry"))

    @app.exception_handler(SQLAlchemyError)
    async def database_error(request: Request, exc: SQLAlchemyError) -> FhirResponse:
        # a statement the database refused: by type and frames only (its text quotes SQL parameters)
        return await _unexpected(request, exc)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> FhirResponse:
        return await _unexpected(request, exc)
