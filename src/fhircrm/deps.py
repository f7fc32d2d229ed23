"""Request dependencies. The store's transaction commits when the handler returns and rolls back when it
raises, before the response is sent, so a client never reads ahead of a commit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine

from fhircrm.config import Settings
from fhircrm.fhir.store import FhirStore
from fhircrm.stores import open_store


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_engine(request: Request) -> AsyncEngine:
    return request.app.state.engine


async def get_store(request: Request) -> AsyncIterator[FhirStore]:
    settings: Settings = request.app.state.settings
    async with request.app.state.engine.begin() as conn:
        yield open_store(conn, settings)


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[FhirStore, Depends(get_store, scope="function")]
