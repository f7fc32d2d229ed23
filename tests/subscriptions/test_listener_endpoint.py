"""The EHR listener endpoint: secrets, malformed bodies, durable receipt, duplicates. Both databases."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.fixtures.sekmet import job_rows

from fhircrm.config import Settings
from fhircrm.subscriptions.backport import Event, notification_bundle, status_parameters
from fhircrm.subscriptions.hook_secrets import secret_for

NAME = "topic-appointment-booked"
Crm = tuple[httpx.AsyncClient, Settings]


def _headers(settings: Settings, name: str = NAME) -> dict:
    return {settings.ehr_notification_header: secret_for(settings, name), "Content-Type": "application/fhir+json"}


def _event_bundle(*numbers: int) -> dict:
    events = [Event(n, f"Appointment/a{n}") for n in numbers]
    sub = {"id": "s1", "criteria": "https://fhircrm.dev/SubscriptionTopic/appointment-booked", "status": "active"}
    return notification_bundle(status_parameters(sub, "http://ehr/fhir", "event-notification", max(numbers), events))


async def test_a_valid_notification_is_stored_before_the_200(crm: Crm, clean_engine: AsyncEngine) -> None:
    client, settings = crm
    response = await client.post(f"/ehr/notifications/{NAME}", json=_event_bundle(1), headers=_headers(settings))
    assert response.status_code == 200
    [row] = await job_rows(clean_engine, "ehr-notification")
    assert (row.status, row.payload["format"], row.payload["name"]) == ("pending", "backport", NAME)


async def test_a_wrong_secret_is_refused_with_401_and_nothing_stored(crm: Crm, clean_engine: AsyncEngine) -> None:
    client, settings = crm
    headers = _headers(settings, "criteria-appointment-booked")  # another subscription's secret
    response = await client.post(f"/ehr/notifications/{NAME}", json=_event_bundle(1), headers=headers)
    assert response.status_code == 401
    assert response.json()["resourceType"] == "OperationOutcome"
    assert await job_rows(clean_engine, "ehr-notification") == []


async def test_a_missing_secret_is_refused_with_401(crm: Crm, clean_engine: AsyncEngine) -> None:
    client, _ = crm
    response = await client.post(f"/ehr/notifications/{NAME}", json=_event_bundle(1))
    assert response.status_code == 401
    assert await job_rows(clean_engine, "ehr-notification") == []


async def test_malformed_json_is_refused_with_400_and_nothing_stored(crm: Crm, clean_engine: AsyncEngine) -> None:
    client, settings = crm
    response = await client.post(
        f"/ehr/notifications/{NAME}", content=b'{"resourceType": "Bund', headers=_headers(settings)
    )
    assert response.status_code == 400
    assert response.json()["issue"][0]["code"] == "invalid"
    assert await job_rows(clean_engine, "ehr-notification") == []


async def test_an_unknown_notification_type_is_refused_with_400(crm: Crm, clean_engine: AsyncEngine) -> None:
    client, settings = crm
    bundle = _event_bundle(1)
    for p in bundle["entry"][0]["resource"]["parameter"]:
        if p["name"] == "type":
            p["valueCode"] = "surprise"
    response = await client.post(f"/ehr/notifications/{NAME}", json=bundle, headers=_headers(settings))
    assert response.status_code == 400
    assert await job_rows(clean_engine, "ehr-notification") == []


async def test_a_resource_without_an_id_is_refused_with_400(crm: Crm, clean_engine: AsyncEngine) -> None:
    client, settings = crm
    response = await client.post(
        f"/ehr/notifications/{NAME}",
        json={"resourceType": "Appointment", "status": "booked"},
        headers=_headers(settings),
    )
    assert response.status_code == 400
    assert await job_rows(clean_engine, "ehr-notification") == []


async def test_a_resource_put_to_another_resources_url_is_refused(crm: Crm, clean_engine: AsyncEngine) -> None:
    client, settings = crm
    body = {"resourceType": "Appointment", "id": "a1", "status": "booked"}
    response = await client.put(f"/ehr/notifications/{NAME}/Appointment/a2", json=body, headers=_headers(settings))
    assert response.status_code == 400
    assert await job_rows(clean_engine, "ehr-notification") == []


async def test_the_same_event_notification_twice_is_stored_once(crm: Crm, clean_engine: AsyncEngine) -> None:
    client, settings = crm
    bundle = _event_bundle(3, 4)  # a retry sends the notification it sent before: the same ids
    for _ in range(2):
        response = await client.post(f"/ehr/notifications/{NAME}", json=bundle, headers=_headers(settings))
        assert response.status_code == 200
    assert len(await job_rows(clean_engine, "ehr-notification")) == 1


async def test_the_same_numbers_in_a_new_notification_are_stored_for_processing(
    crm: Crm, clean_engine: AsyncEngine
) -> None:
    """An EHR that restarted numbers its events from 1 again (HAPI keeps the counter in memory): a notification
    with numbers seen before but its own id is kept; processing tells a restart from a repeat."""
    client, settings = crm
    for _ in range(2):
        response = await client.post(f"/ehr/notifications/{NAME}", json=_event_bundle(1), headers=_headers(settings))
        assert response.status_code == 200
    assert len(await job_rows(clean_engine, "ehr-notification")) == 2


async def test_a_notification_bundle_is_answered_with_a_transaction_response(crm: Crm) -> None:
    """HAPI POSTs topic notifications as a transaction and reads the reply as a Bundle."""
    client, settings = crm
    response = await client.post(f"/ehr/notifications/{NAME}", json=_event_bundle(1), headers=_headers(settings))
    assert response.status_code == 200
    assert (response.json()["resourceType"], response.json()["type"]) == ("Bundle", "transaction-response")
    assert [e["response"]["status"] for e in response.json()["entry"]] == ["200 OK"]


async def test_an_empty_rest_hook_ping_is_accepted(crm: Crm, clean_engine: AsyncEngine) -> None:
    client, settings = crm
    response = await client.post(
        "/ehr/notifications/criteria-appointment-booked",
        content=b"",
        headers=_headers(settings, "criteria-appointment-booked"),
    )
    assert response.status_code == 200
    [row] = await job_rows(clean_engine, "ehr-notification")
    assert (row.payload["format"], row.payload["body"]) == ("rest-hook", None)
