"""``/ui/attendance`` after a real EHR launch on the demo clinic: the coming sessions with expected no-shows, their
90% range and the extra bookings, per practitioner and day. Runs on PostgreSQL and SQLite."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from tests.fixtures.browser import DEMO_PATIENT, ehr_launch
from tests.fixtures.stores import TESTS

from fhircrm.clock import fhir_datetime
from fhircrm.stores import open_store


@pytest.fixture
async def signed_in(browser_client: httpx.AsyncClient) -> httpx.AsyncClient:
    assert (await ehr_launch(browser_client)).status_code == 303
    return browser_client


async def test_the_attendance_page_lists_a_practitioners_session_with_its_expected_no_shows(
    signed_in: httpx.AsyncClient, demo_app: FastAPI
) -> None:
    start = (datetime.now(UTC) + timedelta(days=2)).replace(hour=14, minute=0, second=0, microsecond=0)
    async with demo_app.state.engine.begin() as conn:
        store = open_store(conn, policy=TESTS)
        for minutes in (0, 30):
            await store.create(
                {
                    "resourceType": "Appointment",
                    "status": "booked",
                    "start": fhir_datetime(start + timedelta(minutes=minutes)),
                    "end": fhir_datetime(start + timedelta(minutes=minutes + 30)),
                    "created": fhir_datetime(datetime.now(UTC) - timedelta(days=5)),
                    "participant": [
                        {"actor": {"reference": f"Patient/{DEMO_PATIENT}"}, "status": "accepted"},
                        {
                            "actor": {"reference": "Practitioner/attendance-test", "display": "Dr Attendance"},
                            "status": "accepted",
                        },
                    ],
                }
            )
    dashboard = await signed_in.get("/ui/dashboard")
    assert 'href="/ui/attendance"' in dashboard.text
    page = await signed_in.get("/ui/attendance")
    assert page.status_code == 200
    row = re.search(
        r"<td>Dr Attendance</td>\s*<td>(\d+)</td>\s*<td>([\d.]+)</td>\s*<td>(\d+)&ndash;(\d+)</td>", page.text
    )
    assert row, page.text[:2000]
    booked, expected, low, high = int(row[1]), float(row[2]), int(row[3]), int(row[4])
    assert booked == 2 and 0 < expected < 2 and low <= expected <= high <= 2
