"""A care coordinator's day without a patient context, in real headless Chromium against a real fhircrm server on
loopback (PostgreSQL) with authorization on, as ``fhircrm demo`` runs it: sign in through the development
server's practitioner picker, the worklist with patients' names, the team's dashboard whose figures equal the
indicators API for the same token, a patient opened from the search, a reply in the inbox (and the warning on a
channel the patient left with STOP). Screenshots go to /tmp/shots/."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from tests.fixtures.browser import choose_in_picker, demo_server

from fhircrm.db import create_engine
from fhircrm.smartapp.sessions import COOKIE
from fhircrm.smartapp.tables import smartapp_session

pytestmark = pytest.mark.slow
SHOTS = Path("/tmp/shots")


@pytest.fixture
async def clinic(pg_database_url: str, tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    """The demo clinic (60 patients) with its inbox conversations, served with authorization on."""
    async with demo_server(pg_database_url, tmp_path / "dev-key.json", patients=60, days=60) as (base, _settings):
        yield base, pg_database_url


async def session_token(database_url: str, cookie: str) -> str:
    """The access token the signed-in browser's session holds (server-side only; the test reads the row)."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            key = hashlib.sha256(cookie.encode()).hexdigest()
            data = (await conn.execute(sa.select(smartapp_session.c.data).where(smartapp_session.c.id == key))).one()
    finally:
        await engine.dispose()
    return data[0]["access_token"]


def kpi(text: str) -> tuple[float, int]:
    match = re.search(r"([\d.]+)%\s*no-show rate, last 12 weeks \((\d+) visits\)", text)
    assert match, text[:500]
    return float(match.group(1)), int(match.group(2))


async def test_a_coordinators_day_starts_from_the_clinic_not_a_patient(clinic: tuple[str, str], chromium) -> None:
    base, database_url = clinic
    SHOTS.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240  (once, before the browser starts)
    context = await chromium.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    try:
        # sign in: the start page, the development server's picker of the clinic's staff by name and role
        await page.goto(f"{base}/app/")
        await page.get_by_role("link", name="Sign in to the clinic workspace").click()
        coordinator = await choose_in_picker(page, "coordinator at Demo Clinic Downtown")
        await page.screenshot(path=str(SHOTS / "01-sign-in-picker.png"), full_page=True)
        await page.get_by_role("button", name="Approve").click()
        await page.wait_for_url("**/ui/worklist")
        name = coordinator.split(",")[0]
        assert (await page.locator(".who").inner_text()).strip() == name
        assert "PractitionerRole/" not in await page.locator("header").inner_text()

        # the worklist: every row names its patient
        patients = page.locator("table.worklist tbody td:nth-child(3) a")
        assert await patients.count() > 0
        shown = [t.strip() for t in await patients.all_inner_texts()]
        assert all(shown) and not any(t.lower() == "patient" or "name not available" in t for t in shown)
        await page.screenshot(path=str(SHOTS / "02-worklist.png"), full_page=True)

        # the dashboard: the team's figures, equal to the indicators API for the same token
        await page.get_by_role("link", name="Dashboard").click()
        await page.get_by_role("heading", name="Dashboard").wait_for()
        percent, visits = kpi(await page.locator("main").inner_text())
        assert "your team's patients" in await page.locator(".reach").inner_text()
        await page.screenshot(path=str(SHOTS / "03-dashboard.png"), full_page=True)
        cookie = next(c["value"] for c in await context.cookies() if c["name"] == COOKIE)
        token = await session_token(database_url, cookie)
        now = dt.datetime.now(dt.UTC)
        async with httpx.AsyncClient(base_url=base, timeout=60) as api:
            assert (await api.get("/api/indicators/no-show-rate")).status_code == 401
            window = {
                "start": (now - dt.timedelta(weeks=12)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "end": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
            report = await api.get(
                "/api/indicators/no-show-rate", params=window, headers={"Authorization": f"Bearer {token}"}
            )
        assert report.status_code == 200, report.text
        measured = {g["code"]["coding"][0]["code"]: g["count"] for g in report.json()["group"][0]["population"]}
        assert measured["denominator"] == visits
        assert round(100 * measured["numerator"] / visits, 1) == percent
        assert visits > 0

        # a patient opened from the search: name in the banner, times in the clinic's zone with the zone shown
        family = shown[0].split()[-1]
        await page.get_by_role("link", name="Patients").click()
        await page.get_by_label("Name or MRN").fill(family)
        await page.get_by_role("button", name="Search").click()
        await page.locator("table.patients a", has_text=shown[0]).first.click()
        await page.wait_for_url("**/ui/patients/demo-pat-*")
        assert (await page.locator("#patient-name").inner_text()).strip() == shown[0]
        times = await page.locator("main time").all_inner_texts()
        assert times and all(re.search(r"\b(EST|EDT)$", t.strip()) for t in times if t.strip()), times
        await page.screenshot(path=str(SHOTS / "04-patient-360.png"), full_page=True)

        # the inbox: threads by name; a reply on the thread's channel
        await page.get_by_role("link", name="Inbox").click()
        threads = page.locator(".threads li a")
        assert await threads.count() >= 5
        await _open_thread(page, "Is there parking", reply="Yes, behind the building. See you soon.")
        await page.screenshot(path=str(SHOTS / "05-inbox-reply.png"), full_page=True)

        # the patient who texted STOP: warned before sending, the reply goes out on a consented channel
        await _open_thread(page, "move my appointment")
        warning = page.get_by_role("alert")
        assert "opted out" in (await warning.inner_text())
        choices = await page.get_by_label("Channel").locator("option").all_inner_texts()
        assert choices and "sms" not in choices
        await page.screenshot(path=str(SHOTS / "06-inbox-opted-out.png"), full_page=True)
        await page.get_by_label(re.compile("^Reply")).fill("We can move it: which day suits you?")
        await page.get_by_role("button", name="Send reply").click()
        sent = page.locator("#messages li", has_text="We can move it: which day suits you?")
        await sent.wait_for()
        assert f"clinic · {choices[0]}" in await sent.inner_text()
    finally:
        await context.close()


async def _open_thread(page, first_words: str, *, reply: str = "") -> None:
    """Open the thread whose messages include ``first_words`` (the list shows names and topics, not texts)."""
    links = page.locator(".threads li a")
    for n in range(await links.count()):
        href = await links.nth(n).get_attribute("href")
        await links.nth(n).click()  # the thread opens in place: its URL comes once it is shown
        await page.wait_for_url(f"**{href}")
        if await page.locator("#messages li", has_text=first_words).count():
            break
        await page.go_back()
        await page.locator("#h-thread", has_text="Pick a thread").wait_for()
    else:
        raise AssertionError(f"no thread with {first_words!r}")
    heading = await page.locator("#h-thread").inner_text()
    assert "patient" not in heading.lower().split(" · ")[0]
    if reply:
        await page.get_by_label(re.compile("^Reply on")).fill(reply)
        await page.get_by_role("button", name="Send reply").click()
        await page.locator("#messages li", has_text=reply).wait_for()
