"""The ASGI middlewares every route goes through."""

from __future__ import annotations

from fastapi import FastAPI

from fhircrm.config import Settings
from fhircrm.security.headers import SecurityHeaders
from fhircrm.security.limits import BodySizeLimit


def install(app: FastAPI, settings: Settings) -> None:
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    app.add_middleware(SecurityHeaders, settings=settings)  # outermost: its headers reach every answer, 413s too
