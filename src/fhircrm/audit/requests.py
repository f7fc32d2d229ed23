"""Audit of API requests: what each route did, to whose data, recorded with the request's own write or, for a
refused request, in a transaction of its own."""

from __future__ import annotations

import logging

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from fhircrm.audit.record import AuditRecord, Outcome, now_instant, record
from fhircrm.errors import FhircrmError
from fhircrm.fhir.compartment import patients_of
from fhircrm.fhir.inputs import ANY_CONTROL, escaped
from fhircrm.fhir.resource_types import RESOURCE_TYPE_SET
from fhircrm.fhir.store import ID_PATTERN

log = logging.getLogger(__name__)

#: route function name -> audited interaction
ROUTE_INTERACTIONS = {
    "read": "read",
    "vread": "vread",
    "search": "search",
    "search_post": "search",
    "system_search": "search-system",
    "type_history": "history",
    "instance_history": "history",
    "system_history": "history",
    "create": "create",
    "update": "update",
    "conditional_update": "update",
    "patch": "patch",
    "conditional_patch": "patch",
    "delete": "delete",
    "conditional_delete": "delete",
    "transaction_or_batch": "transaction",
    "patient_everything": "export",
    "system_export": "export",  # Bulk Data kick-off (fhircrm.bulk.routes)
    "patient_export": "export",
    "group_export": "export",
    "bulk_file": "export",  # a Bulk Data file: the resources it holds
}
UNAUDITED_ROUTES = frozenset({"metadata", "smart_configuration"})
MAX_ENTITIES = 200  # a page of search results; beyond that the query itself says what was asked
MAX_TEXT = 2000  # a query string or a claim longer than this is cut in the audit record


def clean(text: str | None, limit: int = MAX_TEXT) -> str | None:
    """``text`` as an audit record may keep it: control characters shown as ``\\xNN`` (PostgreSQL refuses NUL in
    jsonb, and a log reader should see them), cut to ``limit`` characters. The record is queued as JSON and the
    refusal it tells of often came *from* such characters, so it must never fail on them."""
    if text is None:
        return None
    text = text[:limit]
    return escaped(text, limit) if ANY_CONTROL.search(text) else text


def _entity_of(resource_type: object, fhir_id: object) -> list[dict]:
    """The resource a refused request named, when it names one that can exist (else the status says enough)."""
    if resource_type in RESOURCE_TYPE_SET and isinstance(fhir_id, str) and ID_PATTERN.match(fhir_id):
        return [{"resourceType": resource_type, "id": fhir_id}]
    return []


def interaction_of(request: Request) -> str | None:
    route = request.scope.get("route")
    name = getattr(route, "name", None)
    if name in UNAUDITED_ROUTES:
        return None
    if name in ROUTE_INTERACTIONS:
        return ROUTE_INTERACTIONS[name]
    if request.url.path.startswith("/ui/"):  # the workspace's pages read and act like API requests
        return "read" if request.method == "GET" else "operation"
    return "operation" if request.url.path.startswith(("/fhir", "/api/")) else None


def _who(request: Request) -> tuple[str | None, str | None]:
    access = getattr(request.state, "access", None)
    if access is None:
        return None, None
    return access.fhir_user or access.subject, access.client_id


def build(
    request: Request,
    interaction: str,
    outcome: Outcome,
    *,
    accessed: list[dict] = (),
    status: int,
    description: str | None = None,
) -> AuditRecord:
    user, client_id = _who(request)
    resource_type = request.path_params.get("resource_type")
    entities = tuple(dict.fromkeys(f"{r['resourceType']}/{r['id']}" for r in accessed if r.get("id")))
    patients: dict[str, None] = {}
    for resource in accessed:
        patients.update(dict.fromkeys(sorted(patients_of(resource))))
    query = request.url.query if interaction.startswith("search") else None
    return AuditRecord(
        interaction=interaction,
        outcome=outcome,
        recorded=now_instant(),
        user=clean(user),
        client_id=clean(client_id),
        source_ip=clean(request.client.host if request.client else None),
        resource_type=clean(resource_type, 64) if isinstance(resource_type, str) else None,
        entities=entities[:MAX_ENTITIES],
        patients=tuple(patients)[:MAX_ENTITIES],
        query=clean(query),
        status=status,
        description=clean(description),
    )


async def audit_success(conn: AsyncConnection, request: Request, accessed: list[dict]) -> None:
    interaction = interaction_of(request)
    if interaction is not None:
        await record(conn, build(request, interaction, Outcome.SUCCESS, accessed=accessed, status=200))


async def audit_failure(engine: AsyncEngine, request: Request, error: FhircrmError) -> None:
    """A refused or failed request: recorded in its own transaction (the request's own was rolled back)."""
    interaction = interaction_of(request) or ("operation" if request.url.path.startswith("/fhir") else None)
    if interaction is None:
        return
    outcome = Outcome.SERIOUS_FAILURE if error.status >= 500 else Outcome.MINOR_FAILURE
    entity = _entity_of(request.path_params.get("resource_type"), request.path_params.get("fhir_id"))
    audit = build(
        request, interaction, outcome, accessed=entity, status=error.status, description=f"{error.status} {error.code}"
    )
    try:
        async with engine.begin() as conn:
            await record(conn, audit)
    except Exception as exc:  # never turn a refusal into a 500; the log says an audit record was lost
        log.error("could not record the audit of a refused request (%s)", type(exc).__name__)
