"""The workspace's screens over HTTP, after a real EHR launch against the development server, on a demo clinic.
Runs on PostgreSQL and SQLite."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI
from tests.fixtures.browser import COORDINATOR, DEMO_PATIENT, ehr_launch
from tests.fixtures.stores import TESTS

from fhircrm.inbox.codes import INBOX_SYSTEM
from fhircrm.stores import open_store


@pytest.fixture
async def signed_in(browser_client: httpx.AsyncClient) -> httpx.AsyncClient:
    assert (await ehr_launch(browser_client)).status_code == 303
    return browser_client


def csrf_of(page: httpx.Response) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match
    return match.group(1)


async def open_tasks(app: FastAPI) -> list[dict]:
    async with app.state.engine.connect() as conn:
        found = await open_store(conn, policy=TESTS).search(
            "Task", [("status", "requested,accepted,in-progress"), ("_count", "200")]
        )
    return [t for t in found.matches if t["code"]["coding"][0]["system"] != INBOX_SYSTEM]


async def new_task(client: httpx.AsyncClient, app: FastAPI, description: str) -> dict:
    page = await client.get(f"/ui/patients/{DEMO_PATIENT}")
    data = {"csrf": csrf_of(page), "description": description, "due_days": "1"}
    assert (await client.post(f"/ui/patients/{DEMO_PATIENT}/tasks", data=data)).status_code == 303
    return next(t for t in await open_tasks(app) if t.get("description") == description)


async def test_the_patient_360_shows_identity_channels_appointments_and_timeline(signed_in: httpx.AsyncClient) -> None:
    page = await signed_in.get(f"/ui/patients/{DEMO_PATIENT}")
    assert page.status_code == 200
    for section in ("Upcoming appointments", "Conversation timeline", "Open tasks", "Quick actions", "preferred"):
        assert section in page.text
    assert "Can I bring my daughter?" in page.text  # the inbound SMS, in the timeline


async def test_every_page_sends_a_strict_content_security_policy(signed_in: httpx.AsyncClient) -> None:
    # /ui/admin is for administrators, not this coordinator (tests/security/test_roles.py signs one in)
    for path in (f"/ui/patients/{DEMO_PATIENT}", "/ui/worklist", "/ui/inbox", "/ui/dashboard"):
        response = await signed_in.get(path)
        assert response.status_code == 200, path
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert "frame-ancestors 'self'" in policy
        assert response.headers["cache-control"] == "no-store"
        assert "<script>" not in response.text  # no inline scripts


async def test_a_form_without_the_csrf_token_is_refused_and_changes_nothing(
    signed_in: httpx.AsyncClient, demo_app: FastAPI
) -> None:
    before = len(await open_tasks(demo_app))
    data = {"description": "call about results", "due_days": "2", "priority": "routine"}
    response = await signed_in.post(f"/ui/patients/{DEMO_PATIENT}/tasks", data=data)
    assert response.status_code == 403
    assert len(await open_tasks(demo_app)) == before


async def test_a_follow_up_task_from_the_360_appears_in_the_worklist(signed_in: httpx.AsyncClient) -> None:
    page = await signed_in.get(f"/ui/patients/{DEMO_PATIENT}")
    data = {"csrf": csrf_of(page), "description": "Call about the new inhaler", "due_days": "1", "mine": "1"}
    response = await signed_in.post(f"/ui/patients/{DEMO_PATIENT}/tasks", data=data)
    assert response.status_code == 303
    worklist = await signed_in.get("/ui/worklist", params={"owner": "me"})
    assert "Call about the new inhaler" in worklist.text


async def test_claiming_and_completing_a_task_records_owner_and_outcome(
    signed_in: httpx.AsyncClient, demo_app: FastAPI
) -> None:
    task = await new_task(signed_in, demo_app, "Claim and complete me")
    csrf = csrf_of(await signed_in.get("/ui/worklist"))
    claimed = await signed_in.post(f"/ui/worklist/tasks/{task['id']}", data={"csrf": csrf, "action": "claim"})
    assert claimed.status_code == 303
    done = await signed_in.post(
        f"/ui/worklist/tasks/{task['id']}", data={"csrf": csrf, "action": "complete", "outcome": "reached"}
    )
    assert done.status_code == 303
    async with demo_app.state.engine.connect() as conn:
        stored = (await open_store(conn, policy=TESTS).read("Task", task["id"])).content
    assert stored["owner"]["reference"] == COORDINATOR
    assert stored["status"] == "completed"
    assert stored["businessStatus"]["coding"][0]["code"] == "reached"


async def test_a_bulk_action_with_one_bad_task_changes_none(signed_in: httpx.AsyncClient, demo_app: FastAPI) -> None:
    task = await new_task(signed_in, demo_app, "Bulk target")
    data = {
        "csrf": csrf_of(await signed_in.get("/ui/worklist")),
        "action": "complete",
        "outcome": "reached",
        "ids": [task["id"], "no-such-task"],
    }
    response = await signed_in.post("/ui/worklist/bulk", data=data)
    assert response.status_code == 404
    async with demo_app.state.engine.connect() as conn:
        assert (await open_store(conn, policy=TESTS).read("Task", task["id"])).content["status"] == task["status"]


async def test_a_reply_in_the_inbox_is_queued_on_the_patients_channel(
    signed_in: httpx.AsyncClient, demo_app: FastAPI
) -> None:
    inbox = await signed_in.get("/ui/inbox")
    thread_id = re.search(r'href="/ui/inbox/threads/([^"]+)"', inbox.text).group(1)
    thread = await signed_in.get(f"/ui/inbox/threads/{thread_id}")
    assert "Can I bring my daughter?" in thread.text
    data = {"csrf": csrf_of(thread), "text": "Of course, see you then."}
    assert (await signed_in.post(f"/ui/inbox/threads/{thread_id}/reply", data=data)).status_code == 303
    async with demo_app.state.engine.connect() as conn:
        replies = (
            await open_store(conn, policy=TESTS).search("Communication", [("part-of", f"Task/{thread_id}")])
        ).matches
    sent = [c for c in replies if c["payload"][0]["contentString"] == "Of course, see you then."]
    assert sent and sent[0]["category"][-1]["coding"][0]["code"] == "sms"


async def test_the_dashboard_draws_its_charts_as_inline_svg(signed_in: httpx.AsyncClient) -> None:
    page = await signed_in.get("/ui/dashboard")
    assert page.status_code == 200
    assert page.text.count("<svg") >= 5
    assert "No-show rate by service line" in page.text


async def test_waitlisting_creates_a_waitlist_appointment(signed_in: httpx.AsyncClient, demo_app: FastAPI) -> None:
    page = await signed_in.get(f"/ui/patients/{DEMO_PATIENT}")
    data = {"csrf": csrf_of(page), "service_line": "cardiology", "within_days": "20", "note": "any morning"}
    assert (await signed_in.post(f"/ui/patients/{DEMO_PATIENT}/waitlist", data=data)).status_code == 303
    async with demo_app.state.engine.connect() as conn:
        found = await open_store(conn, policy=TESTS).search(
            "Appointment", [("status", "waitlist"), ("patient", DEMO_PATIENT)]
        )
    assert any(a["description"] == "any morning" for a in found.matches)


async def test_urls_carry_ids_never_names(signed_in: httpx.AsyncClient, demo_app: FastAPI) -> None:
    async with demo_app.state.engine.connect() as conn:
        patients = (await open_store(conn, policy=TESTS).search("Patient", [("_count", "100")])).matches
    names = {n["family"].lower() for p in patients for n in p["name"]}
    phones = {t["value"] for p in patients for t in p.get("telecom", [])}
    for path in ("/ui/worklist", "/ui/inbox", f"/ui/patients/{DEMO_PATIENT}"):
        page = await signed_in.get(path)
        links = re.findall(r'(?:href|action|hx-get)="([^"]+)"', page.text)
        assert links
        assert not [link for link in links if any(n in link.lower() for n in names | phones)]
