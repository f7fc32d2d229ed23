"""The ASGI application: the FHIR API under ``/fhir`` (and, as they land, the UI and webhooks)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from fhircrm import __version__
from fhircrm.config import Settings, get_settings
from fhircrm.db import create_engine
from fhircrm.errors import BadRequest, Conflict, FhircrmError, Issue, MethodNotAllowed, NotFound
from fhircrm.fhir import bundle_routes, capability, routes
from fhircrm.fhir.operations import everything
from fhircrm.fhir.outcomes import FhirResponse, error_response, operation_outcome
from fhircrm.migrate import upgrade
from fhircrm.runtime import Runtime, create_http_client
from fhircrm.worker import run_worker

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, migrate: bool = True) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url)
        if migrate:
            await upgrade(engine)
        app.state.engine = engine
        app.state.http = create_http_client()
        app.state.runtime = Runtime(settings, engine, app.state.http)
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
    _install_error_handlers(app)
    app.include_router(capability.router, prefix="/fhir", tags=["FHIR"])
    # Before the generic /{resource_type}/... routes: POST /fhir and the $operations.
    app.include_router(bundle_routes.router, prefix="/fhir", tags=["FHIR"])
    app.include_router(everything.router, prefix="/fhir", tags=["FHIR"])
    app.include_router(routes.router, prefix="/fhir", tags=["FHIR"])

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict:
        return {"status": "ok"}

    return app


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(FhircrmError)
    async def fhircrm_error(_request: Request, exc: FhircrmError) -> FhirResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> FhirResponse:
        return error_response(BadRequest(f"invalid request: {exc.errors()[0].get('msg', 'bad input')}"))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> FhirResponse:
        if exc.status_code == 404:
            return error_response(NotFound("no such endpoint"))
        if exc.status_code == 405:
            return error_response(MethodNotAllowed("method not allowed on this endpoint"))
        issue = Issue(str(exc.detail), code="processing")
        return FhirResponse(operation_outcome([issue]), exc.status_code)

    @app.exception_handler(IntegrityError)
    async def integrity_error(_request: Request, _exc: IntegrityError) -> FhirResponse:
        # Two writers raced on the same resource: the loser retries; nothing was stored.
        return error_response(Conflict("a concurrent write changed this resource; retry"))

    @app.exception_handler(OperationalError)
    async def operational_error(_request: Request, exc: OperationalError) -> FhirResponse:
        log.error("database error: %s", type(exc.orig).__name__)
        issue = Issue("the database is unavailable or busy; retry", code="transient")
        return FhirResponse(operation_outcome([issue]), 503)

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> FhirResponse:
        log.exception("unhandled error (%s)", type(exc).__name__)
        issue = Issue("internal error", code="exception")
        return FhirResponse(operation_outcome([issue]), 500)
