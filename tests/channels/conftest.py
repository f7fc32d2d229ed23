"""An app with channel providers configured, and a client for its webhooks (both databases)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.channels.support import TWILIO, settings_for
from tests.fixtures.servers import ThreadedServer, bound_socket

from fhircrm.app import create_app
from fhircrm.config import Settings

META = {
    "meta_whatsapp_token": "meta-token",
    "meta_whatsapp_phone_number_id": "1098765",
    "meta_app_secret": "meta-app-secret",
    "meta_verify_token": "verify-me",
}
SECRET = "form-secret"


@pytest.fixture
def channel_settings(database_url: str) -> Settings:
    return settings_for(database_url, **TWILIO, **META, channels_inbound_secret=SECRET)


@pytest.fixture
def channel_app(clean_engine: AsyncEngine, channel_settings: Settings) -> FastAPI:
    app = create_app(channel_settings, migrate=False)
    app.state.engine = clean_engine
    return app


@pytest.fixture
async def web(channel_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=channel_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
def live(clean_engine: AsyncEngine, channel_settings: Settings) -> Iterator[str]:
    """The channel app served by uvicorn on a free loopback port (streams need a real server), same database."""
    settings = channel_settings.model_copy(update={"channels_webchat_poll_seconds": 0.2, "embedded_worker": False})
    sock = bound_socket()
    server = ThreadedServer(create_app(settings, migrate=False), sock)
    server.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.stop()
