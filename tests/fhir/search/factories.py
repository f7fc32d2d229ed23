"""Helpers to store resources and read searchsets; the resources come from ``tests.fixtures.factories``."""

from __future__ import annotations

from typing import Any

import httpx
from tests.fixtures.factories import (  # noqa: F401  (the search tests build their resources with these)
    appointment,
    encounter,
    location,
    observation,
    organization,
    patient,
    practitioner_role,
    ref,
    risk_assessment,
    task,
    value_set,
)

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
