"""Builders for transaction and batch Bundles used by the tests."""

from __future__ import annotations

import base64
import uuid

import orjson
from tests.fixtures import factories


def urn() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def bundle(kind: str, *entries: dict) -> dict:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def post(resource: dict, *, full_url: str | None = None, if_none_exist: str | None = None) -> dict:
    request: dict = {"method": "POST", "url": resource["resourceType"]}
    if if_none_exist:
        request["ifNoneExist"] = if_none_exist
    entry: dict = {"resource": resource, "request": request}
    if full_url:
        entry["fullUrl"] = full_url
    return entry


def put(url: str, resource: dict, *, if_match: str | None = None, full_url: str | None = None) -> dict:
    request: dict = {"method": "PUT", "url": url}
    if if_match:
        request["ifMatch"] = if_match
    entry: dict = {"resource": resource, "request": request}
    if full_url:
        entry["fullUrl"] = full_url
    return entry


def delete(url: str) -> dict:
    return {"request": {"method": "DELETE", "url": url}}


def get(url: str) -> dict:
    return {"request": {"method": "GET", "url": url}}


def patch(url: str, operations: list[dict]) -> dict:
    data = base64.b64encode(orjson.dumps(operations)).decode()
    binary = {"resourceType": "Binary", "contentType": "application/json-patch+json", "data": data}
    return {"resource": binary, "request": {"method": "PATCH", "url": url}}


def patient(mrn: str, **extra: object) -> dict:
    return factories.patient(identifier=[("urn:mrn", mrn)], family="Okafor", given=("Ada",), **extra)


def observation(subject: str, **extra: object) -> dict:
    return factories.observation(subject=factories.as_reference(subject)) | extra
