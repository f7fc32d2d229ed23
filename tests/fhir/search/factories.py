"""Small keyword-only factories for search tests, and helpers to store resources and read searchsets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def create(client: httpx.AsyncClient, resource: dict) -> dict:
    """POST ``resource`` and return what the server stored (with its id)."""
    response = await client.post(f"/{resource['resourceType']}", json=resource)
    assert response.status_code == 201, response.text
    return response.json()


async def search(client: httpx.AsyncClient, path: str, params: Any = None, **headers: str) -> dict:
    """GET a searchset that must succeed."""
    response = await client.get(f"/{path}", params=params, headers=headers)
    assert response.status_code == 200, response.text
    bundle = response.json()
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "searchset"
    return bundle


def ids(bundle: dict, *, mode: str = "match") -> set[str]:
    return {e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == mode}


def ordered_ids(bundle: dict) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]


def link(bundle: dict, relation: str) -> str | None:
    """The URL of a link, relative to the client's base (so the client can follow it)."""
    for item in bundle.get("link", []):
        if item["relation"] == relation:
            return item["url"].removeprefix("http://testserver/fhir")
    return None


def ref(resource: dict) -> dict:
    return {"reference": f"{resource['resourceType']}/{resource['id']}"}


def patient(
    *,
    family: str = "Doe",
    given: Sequence[str] = ("Jane",),
    identifier: Sequence[tuple[str | None, str]] = (),
    gender: str | None = None,
    birth_date: str | None = None,
    active: bool | None = None,
    organization: dict | None = None,
    city: str | None = None,
    meta: dict | None = None,
    link_to: dict | None = None,
) -> dict:
    body: dict = {"resourceType": "Patient", "name": [{"family": family, "given": list(given)}]}
    if identifier:
        body["identifier"] = [{"value": v} | ({"system": s} if s else {}) for s, v in identifier]
    if gender:
        body["gender"] = gender
    if birth_date:
        body["birthDate"] = birth_date
    if active is not None:
        body["active"] = active
    if organization:
        body["managingOrganization"] = organization
    if city:
        body["address"] = [{"city": city}]
    if meta:
        body["meta"] = meta
    if link_to:
        body["link"] = [{"other": link_to, "type": "seealso"}]
    return body


def observation(
    *,
    subject: dict | None = None,
    code: tuple[str | None, str] = ("http://loinc.org", "8867-4"),
    text: str | None = None,
    effective: str | dict | None = None,
    quantity: tuple[float, str | None, str | None] | None = None,
    status: str = "final",
    has_member: Sequence[dict] = (),
) -> dict:
    coding = {"code": code[1]} | ({"system": code[0]} if code[0] else {})
    concept: dict = {"coding": [coding]}
    if text:
        concept["text"] = text
    body: dict = {"resourceType": "Observation", "status": status, "code": concept}
    if subject:
        body["subject"] = subject
    if isinstance(effective, str):
        body["effectiveDateTime"] = effective
    elif isinstance(effective, dict):
        body["effectivePeriod"] = effective
    if quantity:
        value, system, unit_code = quantity
        body["valueQuantity"] = (
            {"value": value}
            | ({"system": system} if system else {})
            | ({"code": unit_code, "unit": unit_code} if unit_code else {})
        )
    if has_member:
        body["hasMember"] = list(has_member)
    return body


def encounter(*, subject: dict | None = None, start: str | None = None, end: str | None = None) -> dict:
    body: dict = {"resourceType": "Encounter", "status": "finished", "class": {"code": "AMB"}}
    period = {k: v for k, v in (("start", start), ("end", end)) if v}
    if period:
        body["period"] = period
    if subject:
        body["subject"] = subject
    return body


def appointment(*, start: str, end: str | None = None, status: str = "booked", patient: dict | None = None) -> dict:
    body: dict = {"resourceType": "Appointment", "status": status, "start": start}
    body["end"] = end or start
    actor = patient or {"display": "somebody"}
    body["participant"] = [{"actor": actor, "status": "accepted"}]
    return body


def task(
    *,
    status: str = "requested",
    priority: str | None = None,
    owner: dict | None = None,
    authored_on: str | None = None,
) -> dict:
    body: dict = {"resourceType": "Task", "status": status, "intent": "order"}
    if priority:
        body["priority"] = priority
    if owner:
        body["owner"] = owner
    if authored_on:
        body["authoredOn"] = authored_on
    return body


def risk_assessment(*, probability: float, subject: dict | None = None) -> dict:
    return {
        "resourceType": "RiskAssessment",
        "status": "final",
        "subject": subject or {"reference": "Patient/nobody"},
        "prediction": [{"probabilityDecimal": probability}],
    }


def value_set(*, url: str) -> dict:
    return {"resourceType": "ValueSet", "status": "active", "url": url}


def organization(*, name: str, part_of: dict | None = None) -> dict:
    body: dict = {"resourceType": "Organization", "name": name}
    if part_of:
        body["partOf"] = part_of
    return body


def location(*, name: str) -> dict:
    return {"resourceType": "Location", "name": name}


def practitioner_role(*, practitioner: dict | None = None) -> dict:
    body: dict = {"resourceType": "PractitionerRole", "active": True}
    if practitioner:
        body["practitioner"] = practitioner
    return body
