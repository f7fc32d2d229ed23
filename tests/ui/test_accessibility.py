"""Accessibility in real Chromium against a real fhircrm server (PostgreSQL, authorization on), as ``fhircrm demo``
runs it: axe-core (vendored, tests/ui/vendor) finds no WCAG 2.1 A/AA violation on any staff or patient page; the
patient pages hold up on a 390x844 phone (tap targets, labels, headings, a stylesheet, no script needed); and the
live worklist and inbox lists merge fresh rows without losing ticked rows or keyboard focus. Screenshots go to
/tmp/shots20/."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.fixtures.browser import app_settings
from tests.fixtures.servers import ThreadedServer, bound_socket, wait_until_up
from tests.fixtures.stores import TESTS

from fhircrm.app import create_app
from fhircrm.config import CRM_ROLE_SYSTEM, Settings
from fhircrm.db import create_engine
from fhircrm.demo.launcher import DemoOptions, load_if_empty, seed_inbox
from fhircrm.fhir.store import Operation
from fhircrm.stores import open_store
from fhircrm.surveys.tokens import Invitation, new_nonce, sign

pytestmark = pytest.mark.slow
SHOTS = Path("/tmp/shots20")
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
PHONE = {"width": 390, "height": 844}
SURVEYS = {
    "nps": "http://fhircrm.org/Questionnaire/nps",
    "prem": "http://fhircrm.org/Questionnaire/prem",
    "csat": "http://fhircrm.org/Questionnaire/csat",
}
ADMIN = "PractitionerRole/a11y-admin"
DEMO_PATIENT = "demo-pat-000001"
COORDINATOR = "PractitionerRole/demo-prrole-coord-01"


@pytest.fixture(scope="module")
async def clinic(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[str, Settings]]:
    """The demo clinic with its inbox and one administrator, served on loopback with authorization on; the live
    lists refresh every second so a test can wait past a refresh."""
    from tests.fixtures.database import create_pg_database, drop_pg_database

    name, database_url = create_pg_database()
    sock = bound_socket()
    port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    settings = app_settings(
        database_url,
        base,
        tmp_path_factory.mktemp("a11y") / "dev-key.json",
        auth_mode="jwt",
        auth_issuer=f"{base}/auth",
        auth_jwks_url=f"{base}/auth/jwks",
        ui_worklist_refresh_seconds=1.0,
        ui_inbox_refresh_seconds=1.0,
    )
    await load_if_empty(settings, DemoOptions("127.0.0.1", port, patients=20, days=30))
    await seed_inbox(settings)
    await _add_administrator(settings)
    server = ThreadedServer(create_app(settings, migrate=False), sock)
    try:
        server.start()
        wait_until_up(f"{base}/fhir/metadata")
        yield base, settings
    finally:
        server.stop()
        drop_pg_database(name)


async def _add_administrator(settings: Settings) -> None:
    practitioner = {"resourceType": "Practitioner", "id": "a11y-admin", "name": [{"given": ["Ada"], "family": "Admin"}]}
    role = {
        "resourceType": "PractitionerRole",
        "id": "a11y-admin",
        "active": True,
        "practitioner": {"reference": "Practitioner/a11y-admin"},
        "code": [{"coding": [{"system": CRM_ROLE_SYSTEM, "code": "administrator"}]}],
    }
    engine = create_engine(settings.database_url)
    try:
        async with engine.begin() as conn:
            store = open_store(conn, settings, policy=TESTS)
            mine = await store.search("Task", [("owner", COORDINATOR), ("_count", "1")])
            # three more done tasks of the coordinator's (done tasks never share a row): rows to tick
            tasks = [
                {**mine.matches[0], "id": f"a11y-task-{n}", "status": "completed", "description": f"Check {n}"}
                for n in range(3)
            ]
            await store.apply([Operation("PUT", r["resourceType"], r["id"], r) for r in (practitioner, role, *tasks)])
            await _watch_rows(conn)
    finally:
        await engine.dispose()


async def _describe(settings: Settings, task_id: str, text: str) -> None:
    """Someone else changes a task while the coordinator has the worklist open."""
    engine = create_engine(settings.database_url)
    try:
        async with engine.begin() as conn:
            store = open_store(conn, settings, policy=TESTS)
            task = (await store.read("Task", task_id)).content or {}
            await store.apply([Operation("PUT", "Task", task_id, {**task, "description": text})])
    finally:
        await engine.dispose()


def survey_path(settings: Settings, kind: str) -> str:
    expires = int(time.time()) + 3600
    invitation = Invitation(DEMO_PATIENT, SURVEYS[kind], "post-visit", new_nonce(), expires)
    return f"/survey/{sign(invitation, settings)}"


async def axe_violations(page) -> list[dict]:
    """axe-core's WCAG 2.1 A/AA violations on the page as it is now (the script is added by the test only)."""
    if not await page.evaluate("() => Boolean(window.axe)"):
        # evaluated over the DevTools protocol, so the page's own CSP (script-src 'self') stays on and applies
        await page.evaluate(AXE.read_text() + "\n;undefined")
    result = await page.evaluate(
        "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}})).violations"
        ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))",
        WCAG_AA,
    )
    return result


async def check(page, name: str, found: dict[str, list]) -> None:
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    found[name] = await axe_violations(page)


async def sign_in(context, base: str, *, picker_label: str = "coordinator at Demo Clinic Downtown"):
    """The staff sign-in through the development server's picker; returns the page on the workspace."""
    page = await context.new_page()
    await page.goto(f"{base}/app/")
    await page.get_by_role("link", name="Sign in to the clinic workspace").click()
    picker = page.get_by_label("Sign in as")
    labels = await picker.locator("option").all_inner_texts()
    await picker.select_option(label=next(label for label in labels if picker_label in label))
    await page.get_by_role("button", name="Approve").click()
    await page.wait_for_url("**/ui/**")
    return page


async def test_every_staff_and_patient_page_has_no_wcag_aa_violation(clinic: tuple[str, Settings], chromium) -> None:
    base, settings = clinic
    SHOTS.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240  (once, before the browser starts)
    found: dict[str, list] = {}
    context = await chromium.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = await context.new_page()
        await page.goto(f"{base}/app/")
        await check(page, "staff-start", found)
        await page.get_by_role("link", name="Sign in to the clinic workspace").click()
        await page.get_by_label("Sign in as").wait_for()
        await check(page, "staff-dev-approval", found)
        await page.close()

        page = await sign_in(context, base)
        for path, name in [
            ("/ui/worklist", "staff-worklist"),
            ("/ui/inbox", "staff-inbox"),
            ("/ui/dashboard", "staff-dashboard"),
            ("/ui/attendance", "staff-attendance"),
            ("/ui/patients", "staff-patient-search"),
        ]:
            await page.goto(base + path)
            await check(page, name, found)
        await page.get_by_role("searchbox").or_(page.get_by_label("Name or MRN")).first.fill("a")
        await page.get_by_role("button", name="Search").click()
        await page.locator("table.patients").wait_for()
        await check(page, "staff-patient-search-results", found)
        await page.goto(f"{base}/ui/inbox")
        await page.locator(".threads li a").first.click()
        await page.locator("#h-thread").wait_for()
        await check(page, "staff-thread", found)
        await page.get_by_role("link", name="Patient 360").click()  # a patient of this team, with messages
        await page.locator("#patient-name").wait_for()
        timeline = page.get_by_label("Conversation timeline, scrollable")
        assert await timeline.get_attribute("tabindex") == "0"  # the scrollable region is reachable by keyboard
        await check(page, "staff-patient-360", found)
        await page.goto(f"{base}/ui/admin")  # a coordinator is refused: the refusal page counts too
        await check(page, "staff-refused", found)

        admin = await chromium.new_context(viewport={"width": 1280, "height": 900})
        try:
            page = await admin.new_page()
            made = await page.request.post(f"{base}/auth/launch", data={"fhirUser": ADMIN})
            assert made.status == 201, await made.text()
            launch = (await made.json())["launch"]
            await page.goto(f"{base}/app/launch?iss={base}/fhir&launch={launch}")
            await page.get_by_role("button", name="Approve").click()
            await page.goto(f"{base}/ui/admin")
            await page.get_by_role("heading", level=1).wait_for()
            await check(page, "staff-admin", found)
        finally:
            await admin.close()
    finally:
        await context.close()

    phone = await chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        page = await phone.new_page()
        for kind in SURVEYS:
            await page.goto(base + survey_path(settings, kind))
            await check(page, f"patient-survey-{kind}", found)
            await page.locator("input[type=radio]").first.check()
            await page.get_by_role("button").last.click()
            await page.get_by_role("heading", level=1).wait_for()
            await check(page, f"patient-survey-{kind}-thanks", found)
        await page.goto(f"{base}/channels/webchat/demo")
        await page.locator(".fhircrm-chat__toggle").click()
        await page.locator(".fhircrm-chat__input").wait_for()
        await check(page, "patient-web-chat", found)
    finally:
        await phone.close()

    assert len(found) >= 19, sorted(found)
    assert {name: v for name, v in found.items() if v} == {}


async def test_survey_pages_are_built_for_a_phone(clinic: tuple[str, Settings], chromium) -> None:
    base, settings = clinic
    SHOTS.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240
    phone = await chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True, java_script_enabled=False)
    try:
        page = await phone.new_page()
        response = await page.goto(base + survey_path(settings, "nps"))
        assert response is not None and response.status == 200
        assert "style-src 'self'" in response.headers["content-security-policy"]
        assert await page.locator("html").get_attribute("lang") == "en"
        assert await page.locator("link[rel=stylesheet]").count() == 1
        assert await page.locator("[style]").count() == 0
        assert await page.evaluate("() => getComputedStyle(document.body).fontSize") == "18px"  # the sheet applies
        assert "Demo Community Health Network" in await page.locator("header").inner_text()  # the managing organization
        await page.get_by_label("What is the main reason for your answer?").fill("Kind nurses")
        targets = await page.evaluate(
            "() => Array.from(document.querySelectorAll('label.choice, button, textarea'))"
            ".map(e => { const r = e.getBoundingClientRect(); return [e.textContent.trim(), r.width, r.height]; })"
        )
        assert len(targets) == 13  # 11 scores, the comment box, Send
        assert all(w >= 44 and h >= 44 for _text, w, h in targets), targets
        assert await page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
        await page.screenshot(path=str(SHOTS / "phone-survey-nps.png"), full_page=True)
        await page.get_by_text("9", exact=True).click()  # the label is the target: no JavaScript involved
        await page.get_by_role("button", name="Send").click()
        heading = page.get_by_role("heading", level=1)
        assert (await heading.inner_text()).strip() == "Thank you"
        await page.screenshot(path=str(SHOTS / "phone-survey-thanks.png"), full_page=True)
    finally:
        await phone.close()


async def test_a_worklist_refresh_keeps_ticked_rows_and_keyboard_focus(clinic: tuple[str, Settings], chromium) -> None:
    base, settings = clinic
    context = await chromium.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = await sign_in(context, base)
        await page.goto(f"{base}/ui/worklist?status=completed")
        refreshes: list[str] = []
        page.on("requestfinished", lambda request: refreshes.append(request.url) if "rows=1" in request.url else None)
        box = {n: page.locator(f"#task-a11y-task-{n} input[type=checkbox]") for n in range(3)}
        await box[0].focus()
        await page.keyboard.press("Space")
        await box[2].focus()
        await page.keyboard.press("Space")
        await box[1].focus()  # focus on the middle row, the rows around it ticked
        await page.evaluate("() => window.scrollTo(0, 40)")
        scrolled = await page.evaluate("() => window.scrollY")
        await _describe(settings, "a11y-task-1", "Changed while you looked")  # the focused row changes
        await page.locator("#task-a11y-task-1", has_text="Changed while you looked").wait_for(timeout=30_000)
        before = int(await page.locator("#rows").get_attribute("data-live-refreshes") or 0)
        await page.wait_for_function(
            f"() => Number(document.querySelector('#rows').dataset.liveRefreshes || 0) > {before}", timeout=30_000
        )
        assert refreshes, "no refresh request was made"
        assert [await box[n].is_checked() for n in range(3)] == [True, False, True]
        assert await page.evaluate("() => document.activeElement.closest('tr')?.id") == "task-a11y-task-1"
        assert await page.evaluate("() => document.activeElement.type") == "checkbox"
        assert await page.evaluate("() => window.scrollY") == scrolled
        assert "1 updated" in await page.locator("#rows-live").inner_text()  # said politely, focus untouched
        assert await page.locator("#rows-live").get_attribute("aria-live") == "polite"
        await page.keyboard.press("Space")  # the keyboard still acts on the focused row
        assert await box[1].is_checked()
    finally:
        await context.close()


async def test_the_inbox_list_refresh_keeps_focus_on_a_thread_link(clinic: tuple[str, Settings], chromium) -> None:
    base, _settings = clinic
    context = await chromium.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = await sign_in(context, base)
        await page.goto(f"{base}/ui/inbox")
        links = page.locator(".threads li a")
        await links.nth(1).focus()
        href = await links.nth(1).get_attribute("href")
        before = int(await page.locator("#thread-list").get_attribute("data-live-refreshes") or 0)
        await page.wait_for_function(
            f"() => Number(document.querySelector('#thread-list').dataset.liveRefreshes || 0) >= {before + 2}",
            timeout=30_000,
        )
        assert await page.evaluate("() => document.activeElement.getAttribute('href')") == href
        assert page.url.endswith("/ui/inbox")
    finally:
        await context.close()


async def _watch_rows(conn: object) -> None:
    """Two notifications from the EHR on the admin page: one heard, one the watch flagged (issue 19)."""
    from datetime import datetime

    from fhircrm.subscriptions.tables import ehr_subscription_watch as watch

    now = datetime(2026, 12, 2, 15, 0)
    base = {"kind": "criteria", "resource_type": "", "registered_at": now}
    heard = {"name": "criteria-appointment-booked", "event": "appointment-booked", "last_heard_at": now}
    flagged = {"name": "criteria-encounter-finished", "event": "encounter-finished", "flagged_at": now}
    flagged["flag_reason"] = "silent while the EHR changed 3 Encounter it should have notified"
    for row in (heard, flagged):
        await conn.execute(watch.insert().values(**base, **row))  # type: ignore[attr-defined]
