"""OpenAPI declarations of the FHIR bodies the routes read raw (``read_resource``), so clients and fuzzers
(schemathesis in the suite) see that create, update and transaction take a resource."""

from __future__ import annotations

from typing import Any

FHIR_JSON = ("application/fhir+json", "application/json")


def resource_body(resource_type: str | None = None) -> dict[str, Any]:
    """``openapi_extra`` for a route whose body is one FHIR resource (of ``resource_type`` if given)."""
    kind: dict[str, Any] = {"type": "string", "pattern": "^[A-Z][A-Za-z]{1,63}$"}
    if resource_type:
        kind = {"type": "string", "enum": [resource_type]}
    schema = {
        "type": "object",
        "required": ["resourceType"],
        "properties": {"resourceType": kind, "id": {"type": "string"}},
        "additionalProperties": True,
    }
    content = {media: {"schema": schema} for media in FHIR_JSON}
    return {"requestBody": {"required": True, "content": content}}
