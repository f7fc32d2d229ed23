"""Accessibility in real Chromium against a real fhircrm server (PostgreSQL, authorization on), as ``fhircrm demo``
runs it: axe-core (vendored, tests/ui/vendor) finds no WCAG 2.1 A/AA violation on any staff or patient page; the
patient pages hold up on a 390x844 phone (tap targets, labels, headings, a stylesheet, no script needed); and the
live worklist and inbox lists merge fresh rows without losing ticked rows or keyboard focus. Screenshots go to
/tmp/shots20/. The worklist filters and the inbox threads open in place with the URL kept in step, and the worklist's
one assignee picker works by keyboard alone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from tests.fixtures.browser import SURVEYS, demo_server, sign_in, survey_path
from tests.fixtures.database import create_pg_database, drop_pg_database
from tests.fixtures.stores import TESTS

from fhircrm.config import CRM_ROLE_SYSTEM, Settings
from fhircrm.db import create_engine
from fhircrm.fhir.store import Operation
from fhircrm.stores import open_store

pytestmark = pytest.mark.slow
SHOTS = Path("/tmp/shots20")
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
PHONE = {"width": 390, "height": 844}
ADMIN = "PractitionerRole/a11y-admin"
COORDINATOR = "PractitionerRole/demo-prrole-coord-01"


@pytest.fixture(scope="module")
async def clinic(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[str, Settings]]:
    """The demo clinic with its inbox and one administrator, served on loopback with authorization on; the live
    lists refresh every second so a test can wait past a refresh."""
    name, database_url = create_pg_database()
    try:
        async with demo_server(
            database_url,
            tmp_path_factory.mktemp("a11y") / "dev-key.json",
            patients=20,
            days=30,
            prepare=_add_administrator,
            ui_worklist_refresh_seconds=1.0,
            ui_inbox_refresh_seconds=1.0,
        ) as served:
            yield served
    finally:
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
            # and two open ones of different reasons (alike open tasks would share a row): rows to assign
            for n, reason in enumerate(("callback", "result-follow-up")):
                coding = {"system": "http://fhircrm.org/CodeSystem/task-type", "code": reason}
                tasks.append(
                    {**mine.matches[0], "id": f"a11y-open-{n}", "status": "requested", "code": {"coding": [coding]}}
                )
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


@asynccontextmanager
async def staff_page(chromium, base: str, path: str) -> AsyncIterator[object]:
    """The demo coordinator signed in and on ``path``, in a desktop window closed afterwards."""
    context = await chromium.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = await sign_in(context, base)
        await page.goto(base + path)
        yield page
    finally:
        await context.close()


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
        await page.locator(".threads li a").first.click()  # opens in place: wait for the new URL, not a load
        await page.wait_for_url("**/ui/inbox/threads/**")
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
    async with staff_page(chromium, base, "/ui/worklist?status=completed") as page:
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


async def test_the_inbox_list_refresh_keeps_focus_on_a_thread_link(clinic: tuple[str, Settings], chromium) -> None:
    base, _settings = clinic
    async with staff_page(chromium, base, "/ui/inbox") as page:
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


async def test_a_worklist_filter_applies_in_place_and_back_restores_the_last(
    clinic: tuple[str, Settings], chromium
) -> None:
    base, _settings = clinic
    SHOTS.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240
    async with staff_page(chromium, base, "/ui/worklist") as page:
        await page.evaluate("() => { window.samePage = true; }")  # gone if the browser loads a new document
        await page.get_by_label("Status").select_option("completed")
        await page.get_by_role("button", name="Filter").click()
        await page.wait_for_url("**/ui/worklist?status=completed")  # the URL is in step: bookmarkable
        await page.locator("#task-a11y-task-0").wait_for()
        assert await page.evaluate("() => window.samePage") is True  # no page load
        assert await page.evaluate("() => document.activeElement.id") == "rows"  # focus on the results
        await page.locator("#rows-live", has_text="task").wait_for()  # said politely: "4 tasks"
        found = await axe_violations(page)
        await page.screenshot(path=str(SHOTS / "staff-worklist-filtered-in-place.png"), full_page=True)
        assert found == []

        await page.go_back()  # the previous filter comes back, still without a page load
        await page.wait_for_function("() => location.search === ''")
        await page.locator("#task-a11y-task-0").wait_for(state="detached")
        assert await page.get_by_label("Status").input_value() == "open"
        assert await page.evaluate("() => window.samePage") is True
        assert await page.evaluate("() => document.activeElement.id") == "rows"  # focus on the results again
        await page.go_forward()
        await page.locator("#task-a11y-task-0").wait_for()
        assert await page.get_by_label("Status").input_value() == "completed"

        state = await page.context.storage_state()  # the same sign-in, without JavaScript: full page loads
        plain = await chromium.new_context(storage_state=state, java_script_enabled=False)
        try:
            bare = await plain.new_page()
            await bare.goto(f"{base}/ui/worklist?status=completed")  # the bookmark
            assert await bare.locator("#task-a11y-task-0").count() == 1
            await bare.get_by_label("Status").select_option("open")
            await bare.get_by_role("button", name="Filter").click()
            await bare.wait_for_url("**/ui/worklist?status=open&**")  # the form's own GET
            assert await bare.locator("#task-a11y-task-0").count() == 0
        finally:
            await plain.close()


async def test_an_inbox_thread_opens_in_place_with_focus_on_its_heading(clinic: tuple[str, Settings], chromium) -> None:
    base, _settings = clinic
    async with staff_page(chromium, base, "/ui/inbox") as page:
        await page.evaluate("() => { window.samePage = true; }")
        link = page.locator(".threads li a").nth(1)
        name = (await link.inner_text()).strip()
        await link.focus()
        await page.keyboard.press("Enter")
        await page.wait_for_url("**/ui/inbox/threads/**")
        heading = page.locator("#h-thread")
        assert (await heading.inner_text()).startswith(name)  # the patient's name, not an id
        assert await page.evaluate("() => document.activeElement.id") == "h-thread"
        await page.locator("#thread-live", has_text=name).wait_for()
        assert await page.evaluate("() => window.samePage") is True
        assert await page.locator(".threads li.current a").inner_text() == name  # the list marks the open thread
        assert await page.title() == "Inbox · fhircrm"
        times = await page.locator("#messages time").all_inner_texts()
        assert times and all(t.strip()[:2].isdigit() for t in times)  # clinic-zone times, as on a full load
        found = await axe_violations(page)
        await page.screenshot(path=str(SHOTS / "staff-thread-in-place.png"), full_page=True)
        assert found == []

        await page.go_back()
        await page.locator("#h-thread", has_text="Pick a thread").wait_for()
        assert page.url.endswith("/ui/inbox") and await page.evaluate("() => window.samePage") is True


async def test_the_shared_assignee_picker_assigns_two_ticked_tasks_by_keyboard(
    clinic: tuple[str, Settings], chromium
) -> None:
    base, _settings = clinic
    async with staff_page(chromium, base, "/ui/worklist") as page:
        ids = await page.locator("tr[id^=task-a11y-open-]").evaluate_all("rows => rows.map(r => r.id)")
        assert len(ids) == 2  # in the order of the page
        boxes = [page.locator(f"#{row_id} input[name=ids]") for row_id in ids]
        await boxes[0].focus()
        await page.keyboard.press("Space")
        await _tab_until(page, "Tab", f"document.activeElement.closest('tr')?.id === '{ids[1]}'")
        await page.keyboard.press("Space")  # the second row's tick box comes first in its row
        assert [await box.is_checked() for box in boxes] == [True, True]
        await _tab_until(page, "Shift+Tab", "document.activeElement.id === 'assignee'")  # back up to the bar
        assert "(2 ticked)" in await page.locator("#bulk-title").inner_text()
        await page.keyboard.press("ArrowDown")  # the first person on the list
        person = await page.evaluate("() => document.activeElement.selectedOptions[0].textContent")
        await page.keyboard.press("Tab")
        assert await page.evaluate("() => document.activeElement.textContent") == "Assign ticked"
        await page.keyboard.press("Enter")
        await page.wait_for_load_state()
        for row_id in ids:
            await page.locator(f"#{row_id} td:nth-child(5)", has_text=person).wait_for()
        assert await page.locator("select[name=owner]").count() == 2  # the owner filter and the one picker
        found = await axe_violations(page)
        await page.screenshot(path=str(SHOTS / "staff-worklist-assigned.png"), full_page=True)
        assert found == []


async def _tab_until(page, key: str, condition: str, *, most: int = 80) -> None:
    for _ in range(most):
        await page.keyboard.press(key)
        if await page.evaluate(f"() => {condition}"):
            return
    raise AssertionError(f"{key} never reached: {condition}")


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
