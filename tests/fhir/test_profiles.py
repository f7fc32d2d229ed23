"""Our own conformance resources in profiles/: valid FHIR, and our SearchParameters really search."""

from __future__ import annotations

import json

import httpx
import pytest

from fhircrm.fhir.paths import PROFILES
from fhircrm.fhir.validation import validate

PROFILE_FILES = sorted(PROFILES.glob("*.json"))
CHANNEL_EXT = "http://fhircrm.org/StructureDefinition/preferred-channel"


@pytest.mark.parametrize("path", PROFILE_FILES, ids=lambda p: p.name)
def test_profile_file_is_a_valid_resource_named_after_its_id(path) -> None:
    resource = json.loads(path.read_text())
    validate(resource)
    assert path.name == f"{resource['resourceType']}-{resource['id']}.json"
    assert resource["url"].endswith(f"/{resource['id']}")


async def test_patients_are_found_by_their_preferred_channel(client: httpx.AsyncClient) -> None:
    for channel in ("sms", "email"):
        patient = {"resourceType": "Patient", "extension": [{"url": CHANNEL_EXT, "valueCode": channel}]}
        assert (await client.post("/Patient", json=patient)).status_code == 201
    bundle = (await client.get("/Patient", params={"preferred-channel": "sms"})).json()
    assert [e["resource"]["extension"][0]["valueCode"] for e in bundle["entry"]] == ["sms"]


async def test_overdue_tasks_are_found_by_due_date(client: httpx.AsyncClient) -> None:
    for due in ("2026-01-10T09:00:00Z", "2026-03-10T09:00:00Z"):
        task = {"resourceType": "Task", "status": "ready", "intent": "order", "restriction": {"period": {"end": due}}}
        assert (await client.post("/Task", json=task)).status_code == 201
    bundle = (await client.get("/Task", params={"due": "lt2026-02-01"})).json()
    assert [e["resource"]["restriction"]["period"]["end"] for e in bundle["entry"]] == ["2026-01-10T09:00:00Z"]


async def test_messages_are_found_by_channel(client: httpx.AsyncClient) -> None:
    for channel in ("whatsapp", "email"):
        message = {
            "resourceType": "Communication",
            "status": "completed",
            "category": [{"coding": [{"system": "http://fhircrm.org/CodeSystem/channel", "code": channel}]}],
        }
        assert (await client.post("/Communication", json=message)).status_code == 201
    bundle = (await client.get("/Communication", params={"channel": "whatsapp"})).json()
    assert len(bundle["entry"]) == 1
    assert bundle["entry"][0]["resource"]["category"][0]["coding"][0]["code"] == "whatsapp"
