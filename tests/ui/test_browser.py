"""The SMART app in real headless Chromium against a real fhircrm server on loopback (PostgreSQL): an EHR launch
through the development authorization server, the Patient 360, the worklist, the inbox and the dashboard.
Screenshots go to test-artifacts/ui/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.fixtures.browser import ARTIFACTS, COORDINATOR, DEMO_PATIENT, app_settings, load_demo
from tests.fixtures.servers import ThreadedServer, bound_socket, wait_until_up

from fhircrm.app import create_app
from fhircrm.db import create_engine
from fhircrm.fhir.store import FhirStore
from fhircrm.ui.fetch import human_name

pytestmark = pytest.mark.slow


@pytest.fixture
def live_app(pg_database_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    sock = bound_socket()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = app_settings(pg_database_url, base, tmp_path / "dev-key.json")
    server = ThreadedServer(create_app(settings, migrate=True), sock)
    try:
        server.start()
        wait_until_up(f"{base}/fhir/metadata")
        yield base, pg_database_url
    finally:
        server.stop()


async def test_an_ehr_launch_then_a_coordinators_round_in_chromium(live_app: tuple[str, str], chromium) -> None:
    base, database_url = live_app
    engine = create_engine(database_url)
    settings = app_settings(database_url, base, Path("/nonexistent"))
    try:
        await load_demo(engine, settings, patients=20)
        async with engine.connect() as conn:
            name = human_name((await FhirStore(conn).read("Patient", DEMO_PATIENT)).content)
    finally:
        await engine.dispose()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with httpx.AsyncClient() as ehr:  # the EHR creates the launch context
        made = await ehr.post(f"{base}/auth/launch", json={"patient": DEMO_PATIENT, "fhirUser": COORDINATOR})
    launch = made.json()["launch"]

    context = await chromium.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    try:
        await page.goto(f"{base}/app/launch?iss={base}/fhir&launch={launch}")
        await page.get_by_role("button", name="Approve").click()
        await page.wait_for_url(f"**/ui/patients/{DEMO_PATIENT}")
        assert (await page.locator("#patient-name").inner_text()) == name
        await page.screenshot(path=str(ARTIFACTS / "patient-360.png"), full_page=True)
        await page.set_viewport_size({"width": 800, "height": 900})  # the EHR side panel
        await page.screenshot(path=str(ARTIFACTS / "patient-360-800px.png"), full_page=True)
        await page.set_viewport_size({"width": 1280, "height": 900})

        await page.get_by_text("Create a follow-up task").click()
        await page.get_by_label("What needs doing").fill("Browser test: call about the inhaler")
        await page.get_by_role("button", name="Create task").click()
        await page.get_by_role("status").filter(has_text="follow-up task created").wait_for()

        await page.get_by_role("link", name="Worklist").click()
        row = page.locator("tr", has_text="Browser test: call about the inhaler")
        await row.get_by_role("button", name="Claim").click()
        row = page.locator("tr", has_text="Browser test: call about the inhaler")
        assert "accepted" in await row.inner_text()
        await page.screenshot(path=str(ARTIFACTS / "worklist.png"), full_page=True)
        await row.get_by_label("Outcome").select_option("reached")
        await row.get_by_role("button", name="Complete").click()
        await page.wait_for_load_state()
        assert await page.locator("tr", has_text="Browser test: call about the inhaler").count() == 0

        await page.get_by_role("link", name="Inbox").click()
        await page.locator(".threads a", has_text=name).first.click()
        await page.get_by_label("Reply on sms").fill("Yes, of course. See you then.")
        await page.get_by_role("button", name="Send reply").click()
        await page.locator("#messages li", has_text="Yes, of course. See you then.").wait_for()
        await page.screenshot(path=str(ARTIFACTS / "inbox.png"), full_page=True)

        await page.get_by_role("link", name="Dashboard").click()
        await page.get_by_role("heading", name="Dashboard").wait_for()
        assert await page.locator("svg.chart").count() >= 5
        await page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

        # the admin page is for administrators (tests/security/test_roles.py): a coordinator's menu has no link
        assert await page.get_by_role("link", name="Admin").count() == 0
    finally:
        await context.close()
