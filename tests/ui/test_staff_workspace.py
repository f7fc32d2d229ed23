"""The coordinators' workspace signed in as a practitioner without a patient, over HTTP against the development
server in the same app, on a demo clinic: the staff sign-in, the pickers, the patient search, names and the
clinic's zone on the screens, alike tasks in one row, and replies that respect a STOP. PostgreSQL and SQLite."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from tests.fixtures.browser import COORDINATOR, DEMO_PATIENT, approve, ehr_launch, local, start_launch
from tests.fixtures.stores import TESTS
from tests.ui.test_pages import csrf_of

from fhircrm.channels.contacts import address_for
from fhircrm.channels.inbound import InboundMessage, receive
from fhircrm.stores import open_store
from fhircrm.ui.patient360 import collapse_suppressed
from fhircrm.ui.worklist import collapse


async def staff_sign_in(client: httpx.AsyncClient, user: str = COORDINATOR) -> httpx.Response:
    """``/app/sign-in`` -> the development server (the person picked) -> the callback; returns the callback's answer."""
    started = await client.get("/app/sign-in")
    assert started.status_code == 302
    params = dict(httpx.URL(started.headers["location"]).params)
    response = await client.post("/auth/authorize", data={**params, "decision": "approve", "fhirUser": user})
    assert response.status_code == 303
    return await client.get(local(response.headers["location"]))


@pytest.fixture
async def staff(browser_client: httpx.AsyncClient) -> httpx.AsyncClient:
    landed = await staff_sign_in(browser_client)
    assert landed.status_code == 303 and landed.headers["location"] == "/ui/worklist"
    return browser_client


async def store_read(app: FastAPI, resource_type: str, params: list[tuple[str, str]]) -> list[dict]:
    async with app.state.engine.connect() as conn:
        return (await open_store(conn, policy=TESTS).search(resource_type, params)).matches


async def test_a_staff_sign_in_asks_for_user_scopes_and_no_patient(browser_client: httpx.AsyncClient) -> None:
    started = await browser_client.get("/app/sign-in")
    scope = dict(httpx.URL(started.headers["location"]).params)["scope"].split()
    assert "user/*.rs" in scope and "fhirUser" in scope
    assert not any(word.startswith("launch") for word in scope)


async def test_the_approval_page_offers_staff_and_patients_by_name(browser_client: httpx.AsyncClient) -> None:
    started = await browser_client.get("/app/launch")  # standalone: for one patient, picked on the page
    page = await browser_client.get(local(started.headers["location"]))
    assert page.status_code == 200
    people = dict(re.findall(r'<option value="(PractitionerRole/[^"]+)">([^<]+)</option>', page.text))
    assert people[COORDINATOR].endswith("coordinator at Demo Clinic Downtown")
    assert any(", clinician at" in label for label in people.values())
    patients = dict(re.findall(r'<option value="(demo-pat-[^"]+)">([^<]+)</option>', page.text))
    assert DEMO_PATIENT in patients and "(born " in patients[DEMO_PATIENT]
    assert 'name="patient"' in page.text and "Patient id" not in page.text


async def test_a_coordinator_without_a_patient_opens_worklist_inbox_and_dashboard(
    staff: httpx.AsyncClient, demo_app: FastAPI
) -> None:
    coordinator = await store_read(demo_app, "PractitionerRole", [("_id", COORDINATOR.split("/")[1])])
    name = coordinator[0]["practitioner"]["display"]
    for path in ("/ui/worklist", "/ui/inbox", "/ui/dashboard", "/ui/patients"):
        page = await staff.get(path)
        assert page.status_code == 200, path
        assert f'<span class="who">{name}</span>' in page.text
        assert "PractitionerRole/" not in page.text.split("</header>")[0]
    dashboard = await staff.get("/ui/dashboard")
    assert "your team&#39;s patients" in dashboard.text
    worklist = await staff.get("/ui/worklist")
    assert ">patient<" not in worklist.text and "name not available" not in worklist.text


async def test_before_sign_in_the_workspace_asks_for_one(browser_client: httpx.AsyncClient) -> None:
    assert (await browser_client.get("/ui/patients")).status_code == 401


async def test_the_patient_search_finds_by_name_and_opens_the_360_in_the_clinics_zone(
    staff: httpx.AsyncClient, demo_app: FastAPI
) -> None:
    mine = await staff.get("/ui/patients")  # without a query: the coordinator's (team's) patients
    patient_id = re.search(r'href="/ui/patients/(demo-pat-[^"]+)"', mine.text).group(1)
    [patient] = await store_read(demo_app, "Patient", [("_id", patient_id)])
    found = await staff.get("/ui/patients", params={"q": patient["name"][0]["family"]})
    assert found.status_code == 200
    assert f'href="/ui/patients/{patient_id}"' in found.text
    page = await staff.get(f"/ui/patients/{patient_id}")
    assert page.status_code == 200
    times = re.findall(r"<time[^>]*>([^<]+)</time>", page.text)
    assert times and all(re.search(r" (EST|EDT)$", t) for t in times)
    nothing = await staff.get("/ui/patients", params={"q": "Zzyzx-no-such-name"})
    assert "No patient found" in nothing.text


async def test_alike_open_tasks_share_one_row_and_a_claim_on_it_claims_them_all(
    staff: httpx.AsyncClient, demo_app: FastAPI
) -> None:
    mine = await staff.get("/ui/patients")  # a patient of the coordinator's team
    patient_id = re.search(r'href="/ui/patients/(demo-pat-[^"]+)"', mine.text).group(1)
    due = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    task = {
        "resourceType": "Task",
        "status": "requested",
        "intent": "order",
        "code": {"coding": [{"system": "http://fhircrm.org/CodeSystem/task-type", "code": "service-recovery"}]},
        "description": "Alike: detractor follow-up",
        "for": {"reference": f"Patient/{patient_id}"},
        "owner": {"reference": COORDINATOR},
        "restriction": {"period": {"end": due}},
    }
    async with demo_app.state.engine.begin() as conn:
        store = open_store(conn, policy=TESTS)
        ids = [(await store.create(dict(task))).content["id"] for _ in range(3)]
    page = await staff.get("/ui/worklist", params={"reason": "service-recovery"})
    row = next(r for r in re.findall(r'<tr id="task-.*?</tr>', page.text, re.S) if "Alike: detractor" in r)
    assert "\N{MULTIPLICATION SIGN} 3" in row
    assert set(re.search(r'name="ids" value="([^"]+)"', row).group(1).split(",")) == set(ids)
    first = re.search(r'<tr id="task-([^"]+)"', row).group(1)
    data = {"csrf": csrf_of(page), "action": "claim", "ids": ",".join(ids)}
    assert (await staff.post(f"/ui/worklist/tasks/{first}", data=data)).status_code == 303
    claimed = await store_read(demo_app, "Task", [("_id", ",".join(ids))])
    assert {t["status"] for t in claimed} == {"accepted"}


async def test_a_reply_on_a_channel_the_patient_left_with_stop_is_refused_before_sending(
    staff: httpx.AsyncClient, demo_app: FastAPI
) -> None:
    mine = await staff.get("/ui/patients")  # the team's patients; one with a mobile phone and an e-mail
    ids = re.findall(r'href="/ui/patients/(demo-pat-[^"]+)"', mine.text)
    patient = next(
        p
        for p in await store_read(demo_app, "Patient", [("_id", ",".join(ids))])
        if address_for(p, "sms") and address_for(p, "email")
    )
    phone = address_for(patient, "sms")
    async with demo_app.state.engine.begin() as conn:
        store = open_store(conn, policy=TESTS)
        settings = demo_app.state.settings
        for n, text in enumerate(("STOP", "I still need to move my visit, please help")):
            message = InboundMessage("sms", "twilio", f"SM-stop-{n}", phone, text)
            outcome = await receive(store, settings, message)
    thread_id = outcome.thread["id"]
    page = await staff.get(f"/ui/inbox/threads/{thread_id}")
    assert 'role="alert"' in page.text and "opted out of this channel (STOP)" in page.text
    offered = re.findall(r'<select id="reply-channel" name="channel">(.*?)</select>', page.text, re.S)
    assert offered and "sms" not in offered[0]
    before = await store_read(demo_app, "Communication", [("part-of", f"Task/{thread_id}")])
    refused = await staff.post(
        f"/ui/inbox/threads/{thread_id}/reply", data={"csrf": csrf_of(page), "text": "On SMS?", "channel": "sms"}
    )
    assert refused.status_code == 422 and "no reply sent" in refused.text
    assert len(await store_read(demo_app, "Communication", [("part-of", f"Task/{thread_id}")])) == len(before)
    channel = re.findall(r'<option value="(\w+)">', offered[0])[0]
    data = {"csrf": csrf_of(page), "text": "We can move it: which day suits you?", "channel": channel}
    assert (await staff.post(f"/ui/inbox/threads/{thread_id}/reply", data=data)).status_code == 303
    sent = [
        c
        for c in await store_read(demo_app, "Communication", [("part-of", f"Task/{thread_id}")])
        if c["payload"][0]["contentString"] == data["text"]
    ]
    assert sent and sent[0]["category"][-1]["coding"][0]["code"] == channel


def test_messages_held_back_alike_collapse_into_one_line_with_the_reason() -> None:
    at = datetime(2026, 12, 1, 15, tzinfo=UTC)
    held = {"status": "not-done", "channel": "sms", "text": "Reminder", "reason": "Too many messages", "count": 1}
    timeline = [
        {**held, "id": "1", "at": at},
        {**held, "id": "2", "at": at - timedelta(hours=1)},
        {**held, "id": "3", "at": at - timedelta(hours=2)},
        {**held, "id": "4", "status": "completed", "reason": "", "at": at - timedelta(hours=3)},
    ]
    lines = collapse_suppressed(timeline)
    assert [(line["id"], line["count"]) for line in lines] == [("1", 3), ("4", 1)]
    assert lines[0]["first_at"] == at - timedelta(hours=2) and lines[0]["reason"] == "Too many messages"


def test_closed_tasks_and_other_reasons_keep_their_own_rows() -> None:
    def row(task_id: str, reason: str, state: str = "on-track") -> dict:
        return {"id": task_id, "patient_id": "p1", "reason": reason, "label": reason, "sla": {"state": state}}

    rows = collapse([row("a", "callback"), row("b", "callback"), row("c", "complaint"), row("d", "callback", "closed")])
    assert [(r["id"], r["count"], r["ids"]) for r in rows] == [
        ("a", 2, ["a", "b"]),
        ("c", 1, ["c"]),
        ("d", 1, ["d"]),
    ]


async def test_an_ehr_launch_in_the_practitioners_context_opens_the_clinic_workspace(
    browser_client: httpx.AsyncClient,
) -> None:
    params = await start_launch(browser_client, fhirUser=COORDINATOR)  # the EHR's context: a person, no patient
    landed = await browser_client.get(local(await approve(browser_client, params)))
    assert landed.status_code == 303 and landed.headers["location"] == "/ui/worklist"
    for path in ("/ui/worklist", "/ui/inbox", "/ui/dashboard", "/ui/patients"):
        assert (await browser_client.get(path)).status_code == 200, path
    dashboard = await browser_client.get("/ui/dashboard")
    assert "your team&#39;s patients" in dashboard.text


async def test_a_patient_launch_counts_the_teams_visits_but_opens_only_its_patient(
    browser_client: httpx.AsyncClient,
) -> None:
    assert (await ehr_launch(browser_client)).status_code == 303
    dashboard = await browser_client.get("/ui/dashboard")
    assert "your team&#39;s patients" in dashboard.text  # not the launch patient's visits alone
    worklist = await browser_client.get("/ui/worklist")
    linked = set(re.findall(r'href="/ui/patients/([^"]+)"', worklist.text))
    assert linked <= {DEMO_PATIENT}  # other patients are named, not linked: this launch stays on its patient
