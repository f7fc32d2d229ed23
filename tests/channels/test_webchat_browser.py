"""The chat widget in real headless Chromium, on a page with a strict CSP: send a message, see a staff reply."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.slow


async def test_the_widget_sends_a_message_and_shows_the_staff_reply_live(live, chromium, database_url):
    if database_url.startswith("postgresql"):
        pytest.skip("one backend is enough for the browser: the stream itself is tested on both")
    context = await chromium.new_context()
    page = await context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" and "404" not in m.text else None)
    page.on("response", lambda r: problems.append(r.url) if r.status >= 400 and "favicon" not in r.url else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    try:
        await page.goto(f"{live}/channels/webchat/demo")
        await page.get_by_role("button", name="Chat with us").click()
        await page.get_by_label("Your message").fill("Is there parking?")
        await page.get_by_role("button", name="Send").click()
        await page.locator(".fhircrm-chat__message--patient", has_text="Is there parking?").wait_for(timeout=10_000)
        async with httpx.AsyncClient(base_url=live) as staff:
            [thread] = (await staff.get("/api/inbox/threads")).json()["threads"]
            reply = await staff.post(f"/api/inbox/threads/{thread['id']}/reply", json={"text": "Yes, level 2."})
            assert reply.status_code == 200
        await page.locator(".fhircrm-chat__message--staff", has_text="Yes, level 2.").wait_for(timeout=10_000)
        assert problems == []  # no CSP violation, no script error
    finally:
        await context.close()
