"""The workspace reads through a store scoped by the signed-in session's SMART access, and its pages are audited
like API requests: who (the session's fhirUser, the app's client id), what, whose data."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from tests.fixtures.browser import COORDINATOR, DEMO_PATIENT, ehr_launch
from tests.security.test_audit_events import audit_events, references


async def test_opening_a_patient_in_the_ui_is_audited_as_a_read_by_the_signed_in_user(
    browser_client: httpx.AsyncClient, demo_app: FastAPI
) -> None:
    assert (await ehr_launch(browser_client)).status_code == 303
    assert (await browser_client.get(f"/ui/patients/{DEMO_PATIENT}")).status_code == 200
    events = [
        e
        for e in await audit_events(demo_app.state.engine)
        if e["agent"][0].get("who") == {"reference": COORDINATOR} and f"Patient/{DEMO_PATIENT}" in references(e)
    ]
    assert events, "no AuditEvent for the page"
    assert events[-1]["subtype"][0]["code"] == "read"
    assert events[-1]["agent"][0]["altId"] == demo_app.state.settings.app_client_id


async def test_a_patient_launch_cannot_reach_another_patients_page(
    browser_client: httpx.AsyncClient, demo_app: FastAPI
) -> None:
    assert (await ehr_launch(browser_client)).status_code == 303
    other = DEMO_PATIENT.replace("000001", "000002")
    assert (await browser_client.get(f"/ui/patients/{other}")).status_code == 403
