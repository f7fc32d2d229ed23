"""``GET /fhir/metadata``: a CapabilityStatement listing exactly what works.

Built from the same registry the search compiler uses, so a parameter is published if and only if it is indexed;
the $operations and the messaging block are those the packages contribute (``fhircrm.fhir.operations``).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from fastapi import APIRouter, Request

from fhircrm import __version__
from fhircrm.fhir.negotiation import base_url, check_format
from fhircrm.fhir.operations import Operations
from fhircrm.fhir.outcomes import FhirResponse
from fhircrm.fhir.resource_types import RESOURCE_TYPES
from fhircrm.fhir.search.param_types import DATE, REFERENCE, TOKEN
from fhircrm.fhir.search.registry import registry

INTERACTIONS = (
    "read",
    "vread",
    "update",
    "patch",
    "delete",
    "history-instance",
    "history-type",
    "create",
    "search-type",
)
BULK_DATA = "http://hl7.org/fhir/uv/bulkdata"
_RESOURCE_PARAM = "http://hl7.org/fhir/SearchParameter/Resource"
COMMON_PARAMS = [
    {"name": "_id", "type": TOKEN.name, "definition": f"{_RESOURCE_PARAM}-id"},
    {"name": "_lastUpdated", "type": DATE.name, "definition": f"{_RESOURCE_PARAM}-lastUpdated"},
]


@cache
def _resources() -> tuple[dict, ...]:
    out = []
    for resource_type in RESOURCE_TYPES:
        params = registry().params(resource_type)
        reference_codes = sorted(c for c, p in params.items() if p.kind is REFERENCE)
        entry: dict = {
            "type": resource_type,
            "profile": f"http://hl7.org/fhir/StructureDefinition/{resource_type}",
            "interaction": [{"code": code} for code in INTERACTIONS],
            "versioning": "versioned-update",
            "readHistory": True,
            "updateCreate": True,
            "conditionalCreate": True,
            "conditionalRead": "not-supported",
            "conditionalUpdate": True,
            "conditionalDelete": "multiple",
            "referencePolicy": ["literal", "logical"],
            "searchInclude": ["*", *(f"{resource_type}:{c}" for c in reference_codes)],
            "searchRevInclude": [],
            "searchParam": COMMON_PARAMS
            + [
                {"name": code, "type": p.kind.name, "definition": p.url}
                for code, p in sorted(params.items())
                if code not in ("_id", "_lastUpdated")
            ],
        }
        out.append(entry)
    revincludes: dict[str, list[str]] = {}
    for resource_type in RESOURCE_TYPES:
        for code, p in registry().params(resource_type).items():
            if p.kind is REFERENCE:
                for target in p.targets or RESOURCE_TYPES:
                    revincludes.setdefault(target, []).append(f"{resource_type}:{code}")
    for entry in out:
        entry["searchRevInclude"] = sorted(revincludes.get(entry["type"], []))
    return tuple(out)


def _with_operations(entry: dict, operations: Sequence[Operations]) -> dict:
    named = [{"name": n, "definition": d} for ops in operations for n, d in ops.by_type.get(entry["type"], ())]
    return {**entry, "operation": named} if named else entry


def capability_statement(base: str, *, security: dict | None = None, operations: Sequence[Operations] = ()) -> dict:
    rest: dict = {
        "mode": "server",
        "documentation": "fhircrm FHIR R4 API: engagement state (Communication, Task, ...) and the EHR mirror",
        "resource": [_with_operations(entry, operations) for entry in _resources()],
        "interaction": [
            {"code": "transaction"},
            {"code": "batch"},
            {"code": "history-system"},
            {"code": "search-system"},
        ],
        "searchParam": COMMON_PARAMS,
        "operation": [{"name": n, "definition": d} for ops in operations for n, d in ops.system],
    }
    if security:
        rest["security"] = security
    statement_messaging = [entry for ops in operations if ops.messaging for entry in ops.messaging(base)]
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-27",
        "publisher": "fhircrm",
        "kind": "instance",
        "software": {"name": "fhircrm", "version": __version__},
        "implementation": {"description": "fhircrm patient engagement server", "url": base},
        "instantiates": [f"{BULK_DATA}/CapabilityStatement/bulk-data"],
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "patchFormat": ["application/json-patch+json"],
        "rest": [rest],
        "messaging": statement_messaging,
    }


def router_for(operations: Sequence[Operations]) -> APIRouter:
    """The ``/metadata`` route, listing the given packages' operations."""
    router = APIRouter()

    @router.get("/metadata", summary="CapabilityStatement")
    async def metadata(request: Request) -> FhirResponse:
        check_format(request)
        security = getattr(request.app.state, "capability_security", None)
        return FhirResponse(capability_statement(base_url(request), security=security, operations=operations))

    return router
