"""``GET /fhir/metadata``: a CapabilityStatement listing exactly what works.

Built from the same registry the search compiler uses, so a parameter is published if and only if it is indexed.
"""

from __future__ import annotations

from functools import cache

from fastapi import APIRouter, Request

from fhircrm import __version__
from fhircrm.fhir.negotiation import base_url, check_format
from fhircrm.fhir.outcomes import FhirResponse
from fhircrm.fhir.resource_types import RESOURCE_TYPES
from fhircrm.fhir.search.registry import registry
from fhircrm.messaging import events as message_events

router = APIRouter()

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
SEARCH_PARAM_TYPES = ("token", "string", "date", "reference", "number", "quantity", "uri")
#: Operations available per resource type (name, canonical definition).
BULK_DATA = "http://hl7.org/fhir/uv/bulkdata"
OPERATIONS: dict[str, list[tuple[str, str]]] = {
    "Patient": [
        ("everything", "http://hl7.org/fhir/OperationDefinition/Patient-everything"),
        ("export", f"{BULK_DATA}/OperationDefinition/patient-export"),  # fhircrm.fhir.operations.export
    ],
    "Group": [("export", f"{BULK_DATA}/OperationDefinition/group-export")],
    "Subscription": [  # fhircrm.subscriptions.operations
        ("status", "http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/backport-subscription-status"),
        ("events", "http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/backport-subscription-events"),
    ],
}
#: Operations on the whole server: Bulk Data export and import (fhircrm.fhir.operations.export, bulk_import).
#: Bulk Data 2.0 defines no import operation: ours takes its inputs as the Bulk Data import proposal does.
SYSTEM_OPERATIONS: list[tuple[str, str]] = [
    ("export", f"{BULK_DATA}/OperationDefinition/export"),
    ("import", "http://fhircrm.org/fhir/OperationDefinition/import"),
    ("process-message", "http://hl7.org/fhir/OperationDefinition/MessageHeader-process-message"),
]
COMMON_PARAMS = [
    {"name": "_id", "type": "token", "definition": "http://hl7.org/fhir/SearchParameter/Resource-id"},
    {"name": "_lastUpdated", "type": "date", "definition": "http://hl7.org/fhir/SearchParameter/Resource-lastUpdated"},
]


@cache
def _resources() -> tuple[dict, ...]:
    out = []
    for resource_type in RESOURCE_TYPES:
        params = registry().params(resource_type)
        reference_codes = sorted(c for c, p in params.items() if p.type == "reference")
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
                {"name": code, "type": p.type, "definition": p.url}
                for code, p in sorted(params.items())
                if code not in ("_id", "_lastUpdated")
            ],
        }
        if resource_type in OPERATIONS:
            entry["operation"] = [{"name": n, "definition": d} for n, d in OPERATIONS[resource_type]]
        out.append(entry)
    revincludes: dict[str, list[str]] = {}
    for resource_type in RESOURCE_TYPES:
        for code, p in registry().params(resource_type).items():
            if p.type == "reference":
                for target in p.targets or RESOURCE_TYPES:
                    revincludes.setdefault(target, []).append(f"{resource_type}:{code}")
    for entry in out:
        entry["searchRevInclude"] = sorted(revincludes.get(entry["type"], []))
    return tuple(out)


def capability_statement(base: str, *, security: dict | None = None) -> dict:
    rest: dict = {
        "mode": "server",
        "documentation": "fhircrm FHIR R4 API: engagement state (Communication, Task, ...) and the EHR mirror",
        "resource": list(_resources()),
        "interaction": [
            {"code": "transaction"},
            {"code": "batch"},
            {"code": "history-system"},
            {"code": "search-system"},
        ],
        "searchParam": COMMON_PARAMS,
        "operation": [{"name": n, "definition": d} for n, d in SYSTEM_OPERATIONS],
    }
    if security:
        rest["security"] = security
    statement_messaging = messaging(base)
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


def messaging(base: str) -> list[dict]:
    """What ``$process-message`` receives (fhircrm.messaging): one supported message per event, and every event
    coding accepted (ours and the HL7 v2 trigger events) as an extension, since R4 has no element for them."""
    return [
        {
            "endpoint": [
                {
                    "protocol": {"system": "http://terminology.hl7.org/CodeSystem/message-transport", "code": "http"},
                    "address": f"{base}/$process-message",
                }
            ],
            "documentation": "Synchronous $process-message from system clients; idempotent on the MessageHeader id",
            "supportedMessage": [
                {"mode": "receiver", "definition": f"http://fhircrm.org/fhir/MessageDefinition/{event.code}"}
                for event in message_events.EVENTS
            ],
            "extension": [
                {"url": "http://fhircrm.org/fhir/StructureDefinition/supported-message-event", "valueCoding": coding}
                for coding in message_events.supported_codings()
            ],
        }
    ]


@router.get("/metadata", summary="CapabilityStatement")
async def metadata(request: Request) -> FhirResponse:
    check_format(request)
    security = getattr(request.app.state, "capability_security", None)
    return FhirResponse(capability_statement(base_url(request), security=security))
