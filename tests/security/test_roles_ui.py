"""Roles in the workspace: the clinical screens for clinical roles, the admin page for administrators, a
coordinator's worklist narrowed to their team (the demo clinic's site), and every refusal audited."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from tests.fixtures.browser import COORDINATOR, DEMO_PATIENT, ehr_launch
from tests.security.conftest import seed
from tests.security.roles_clinic import patient, role, task
from tests.security.test_audit_events import audit_events, references

ADMIN = "PractitionerRole/ui-role-admin"
CLINICAL_PAGES = (f"/ui/patients/{DEMO_PATIENT}", "/ui/worklist", "/ui/inbox", "/ui/dashboard")
SITE_1_GP = "PractitionerRole/demo-prrole-0001"  # primary care at Downtown, coordinator coord-01's site
SITE_3_GP = "PractitionerRole/demo-prrole-0003"  # primary care at Northgate
SITE_3_COORDINATOR = "PractitionerRole/demo-prrole-coord-03"


@pytest.fixture(scope="module")
async def staffed(demo_app: FastAPI) -> FastAPI:
    """The demo clinic plus an administrator and one open Task on each side of coordinator coord-01's team."""
    admin = role("ui-role-admin", "ui-admin", "administrator")
    admin.pop("organization")
    await seed(
        demo_app.state.engine,
        {"resourceType": "Practitioner", "id": "ui-admin", "name": [{"family": "Admin"}]},
        admin,
        patient("ui-team-pat", gp=SITE_1_GP, organization="demo-org-clinic"),
        patient("ui-other-pat", gp=SITE_3_GP, organization="demo-org-clinic"),
        {**task("ui-task-team", "ui-team-pat"), "description": "Team task: call back"},
        {**task("ui-task-other", "ui-other-pat", owner=SITE_3_COORDINATOR), "description": "Other site: call back"},
    )
    return demo_app


async def _refusals(app: FastAPI, who: str) -> list[dict]:
    """The AuditEvents of refused requests (outcome 4) made by ``who``."""
    return [
        e
        for e in await audit_events(app.state.engine)
        if e["agent"][0].get("who") == {"reference": who} and e["outcome"] == "4"
    ]


async def test_an_administrator_opens_the_admin_page_and_no_clinical_screen(
    browser_client: httpx.AsyncClient, staffed: FastAPI
) -> None:
    assert (await ehr_launch(browser_client, user=ADMIN)).status_code == 303
    admin = await browser_client.get("/ui/admin")
    assert admin.status_code == 200
    assert 'href="/ui/worklist"' not in admin.text  # the menu offers only what opens
    for path in CLINICAL_PAGES:
        response = await browser_client.get(path)
        assert response.status_code == 403, path
        assert "for clinicians, care coordinators and supervisors" in response.text


async def test_the_admin_page_shows_each_ehr_notification_and_what_the_watch_flagged(
    browser_client: httpx.AsyncClient, staffed: FastAPI
) -> None:
    from datetime import datetime

    from fhircrm.subscriptions.tables import ehr_subscription_watch as watch

    now = datetime(2026, 12, 2, 15, 0)
    heard = {"name": "criteria-appointment-booked", "event": "appointment-booked", "last_heard_at": now}
    flagged = {"name": "criteria-encounter-finished", "event": "encounter-finished", "flagged_at": now}
    flagged["flag_reason"] = "silent while the EHR changed 3 Encounter it should have notified"
    base = {"kind": "criteria", "resource_type": "", "registered_at": now}
    async with staffed.state.engine.begin() as conn:
        for row in (heard, flagged):
            await conn.execute(watch.insert().values(**base, **row))
    try:
        assert (await ehr_launch(browser_client, user=ADMIN)).status_code == 303
        page = (await browser_client.get("/ui/admin")).text
    finally:
        async with staffed.state.engine.begin() as conn:
            await conn.execute(watch.delete())
    assert "Notifications from the EHR" in page
    assert "appointment-booked" in page and "10:00 EST" in page  # heard at 15:00 UTC, shown in the clinic's zone
    assert "flagged" in page and "silent while the EHR changed 3 Encounter" in page


async def test_a_coordinator_is_refused_the_admin_page_and_the_refusal_is_audited(
    browser_client: httpx.AsyncClient, staffed: FastAPI
) -> None:
    assert (await ehr_launch(browser_client)).status_code == 303
    response = await browser_client.get("/ui/admin")
    assert response.status_code == 403
    assert "for administrators" in response.text
    refusals = await _refusals(staffed, COORDINATOR)
    assert refusals and refusals[-1]["outcomeDesc"] == "403 forbidden"


async def test_an_administrator_refused_a_patient_page_is_audited_with_the_patient(
    browser_client: httpx.AsyncClient, staffed: FastAPI
) -> None:
    assert (await ehr_launch(browser_client, user=ADMIN)).status_code == 303
    assert (await browser_client.get(f"/ui/patients/{DEMO_PATIENT}")).status_code == 403
    [event] = (await _refusals(staffed, ADMIN))[-1:]
    assert references(event) == [f"Patient/{DEMO_PATIENT}"]


async def test_the_worklist_of_a_coordinator_shows_their_teams_work_only(
    browser_client: httpx.AsyncClient, staffed: FastAPI
) -> None:
    assert (await ehr_launch(browser_client)).status_code == 303
    page = await browser_client.get("/ui/worklist")
    assert page.status_code == 200
    assert "Team task: call back" in page.text
    assert "Other site: call back" not in page.text


async def test_a_person_without_a_role_is_refused_the_workspace(
    browser_client: httpx.AsyncClient, staffed: FastAPI
) -> None:
    assert (await ehr_launch(browser_client, user="Practitioner/someone-else")).status_code == 303
    for path in (*CLINICAL_PAGES, "/ui/admin"):
        response = await browser_client.get(path)
        assert response.status_code == 403, path
        assert "no fhircrm role" in response.text
