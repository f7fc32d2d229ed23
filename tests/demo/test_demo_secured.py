"""``fhircrm demo`` secured by default: authorization on through the development server, a loader that works
under every auth mode, and the scripted inbox conversations. Runs on PostgreSQL and SQLite."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.fixtures.api import FHIR_JSON
from tests.fixtures.database import truncate

from fhircrm.app import create_app
from fhircrm.channels.consent import active_consents, decide
from fhircrm.config import Settings, get_settings
from fhircrm.demo.conversations import SCRIPTS
from fhircrm.demo.launcher import DemoOptions, demo_environment, load_if_empty, seed_inbox
from fhircrm.fhir.access import ServiceScope
from fhircrm.inbox.codes import INBOX_SYSTEM
from fhircrm.stores import open_store

AUTH_VARIABLES = (
    "FHIRCRM_AUTH_MODE",
    "FHIRCRM_AUTH_ISSUER",
    "FHIRCRM_AUTH_JWKS_URL",
    "FHIRCRM_AUTH_AUTHORIZE_URL",
    "FHIRCRM_AUTH_TOKEN_URL",
    "FHIRCRM_DEV_AUTH_ISSUER",
    "FHIRCRM_BASE_URL",
    "FHIRCRM_ENVIRONMENT",
    "FHIRCRM_DEV_AUTH_ENABLED",
)


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """``demo_environment`` writes os.environ: every variable it may set is put back as it was (set then
    deleted through monkeypatch, so the undo restores the original state, absent or not)."""
    for name in AUTH_VARIABLES:
        monkeypatch.setenv(name, "placeholder")
        monkeypatch.delenv(name)
    yield monkeypatch
    get_settings.cache_clear()


def test_the_demo_turns_authorization_on_through_the_development_server(
    clean_environment: pytest.MonkeyPatch,
) -> None:
    demo_environment("127.0.0.1", 8123)
    settings = get_settings()
    assert settings.auth_mode == "jwt"
    assert settings.auth_issuer == "http://127.0.0.1:8123/auth"
    assert settings.auth_jwks_url == "http://127.0.0.1:8123/auth/jwks"
    assert settings.dev_auth_enabled


def test_the_demo_keeps_an_auth_mode_the_environment_sets(clean_environment: pytest.MonkeyPatch) -> None:
    clean_environment.setenv("FHIRCRM_AUTH_MODE", "none")
    demo_environment("127.0.0.1", 8123)
    assert get_settings().auth_mode == "none"
    assert "FHIRCRM_AUTH_ISSUER" not in os.environ


def jwt_settings(database_url: str, tmp_path: Path) -> Settings:
    """An EHR's issuer that is not even up: the demo's loader must not need a token from it."""
    return Settings(
        environment="development",
        database_url=database_url,
        auth_mode="jwt",
        auth_issuer="https://ehr.invalid/auth",
        auth_jwks_url="https://ehr.invalid/auth/jwks",
        dev_auth_key_file=tmp_path / "dev-key.json",
        embedded_worker=False,
    )


async def test_the_demo_loads_under_jwt_and_its_api_still_checks_tokens(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    await truncate(engine)
    settings = jwt_settings(database_url, tmp_path)
    written = await load_if_empty(settings, DemoOptions("127.0.0.1", 8123, patients=12, days=30))
    assert written > 0
    async with engine.connect() as conn:
        patients = await open_store(conn, settings, policy=ServiceScope("test")).search("Patient", [("_count", "50")])
    assert len(patients.matches) == 12
    app = create_app(settings, migrate=False)
    app.state.engine = engine
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver/fhir") as client:
        response = await client.get("Patient", headers={"Accept": FHIR_JSON})
    assert response.status_code == 401  # the served API is not the loader: it wants a token
    assert await load_if_empty(settings, DemoOptions("127.0.0.1", 8123, patients=12, days=30)) == 0


async def test_the_demo_inbox_has_conversations_across_channels_once(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    await truncate(engine)
    settings = jwt_settings(database_url, tmp_path)
    await load_if_empty(settings, DemoOptions("127.0.0.1", 8123, patients=60, days=30))
    first = await seed_inbox(settings)
    assert first == sum(len(script) for script in SCRIPTS)
    assert await seed_inbox(settings) == 0  # seeding again writes nothing twice
    async with engine.connect() as conn:
        store = open_store(conn, settings, policy=ServiceScope("test"))
        threads = (await store.search("Task", [("code", f"{INBOX_SYSTEM}|conversation"), ("_count", "50")])).matches
        messages = [
            c for t in threads for c in (await store.search("Communication", [("part-of", f"Task/{t['id']}")])).matches
        ]
        consents = {t["for"]["reference"]: await active_consents(store, t["for"]["reference"]) for t in threads}
    assert len(threads) == len(SCRIPTS)
    channels = {c["category"][-1]["coding"][0]["code"] for c in messages}
    assert {"sms", "whatsapp", "email"} <= channels
    directions = {
        "in" if (c.get("sender") or {}).get("reference", "").startswith("Patient/") else "out" for c in messages
    }
    assert directions == {"in", "out"}
    opted_out = [ref for ref, found in consents.items() if decide(found, "sms", "care-coordination") == "opted-out"]
    assert len(opted_out) == 1  # the patient who texted STOP, then wrote again
