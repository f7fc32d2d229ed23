"""``$validate`` at type and instance level: would this resource be accepted, and if not, why, element by
element. The same checks as a write (``fhircrm.fhir.validation``) plus the invariants of every type, answered
as an OperationOutcome with 200 whatever it finds (the operation ran); 4xx only when it cannot run.

Access: the ``validate`` interaction (the access table's read column: validating reveals nothing stored); at
instance level the resource is read under the caller's policy, so a narrowed caller validates only what it
may read. Modes (R4 ``Resource-validate``): ``create``, ``update`` (the id must be the instance's) and
``delete`` (instance level: whether it exists and may be deleted). ``profile``: the core profile of the type;
another is reported as not supported.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from fhircrm.deps import SettingsDep, StoreDep
from fhircrm.errors import BadRequest, Issue
from fhircrm.fhir import validation
from fhircrm.fhir.access import APPEND_ONLY
from fhircrm.fhir.inputs import check_resource
from fhircrm.fhir.negotiation import check_format, read_json
from fhircrm.fhir.operations import Operations
from fhircrm.fhir.outcomes import FhirResponse, operation_outcome
from fhircrm.fhir.resource_types import RESOURCE_TYPES
from fhircrm.fhir.store import FhirStore, check_id, check_type

DEFINITION = "http://hl7.org/fhir/OperationDefinition/Resource-validate"
CORE_PROFILE = "http://hl7.org/fhir/StructureDefinition/"
MODES = ("create", "update", "delete")

router = APIRouter()
OPERATIONS = Operations(router, by_type={t: (("validate", DEFINITION),) for t in RESOURCE_TYPES})


def _inputs(body: object, request: Request) -> tuple[object, str | None, str | None]:
    """(resource, mode, profile) from a Parameters body, a bare resource, or the query string."""
    mode, profile = request.query_params.get("mode"), request.query_params.get("profile")
    if not isinstance(body, dict):
        if body is not None:
            raise BadRequest("$validate takes a resource or a Parameters resource")
        return None, mode, profile
    if body.get("resourceType") != "Parameters":
        return body, mode, profile
    resource = None
    parameters = body.get("parameter")
    for parameter in parameters if isinstance(parameters, list) else []:
        if not isinstance(parameter, dict):
            continue
        name = parameter.get("name")
        if name == "resource":
            resource = parameter.get("resource")
        elif name == "mode":
            mode = parameter.get("valueCode")
        elif name == "profile":
            profile = parameter.get("valueUri") or parameter.get("valueCanonical")
    return resource, mode, profile


def _check_mode(mode: object, fhir_id: str | None) -> str:
    if mode is None:
        return "update" if fhir_id else "create"
    if mode not in MODES:
        raise BadRequest(f"mode must be one of {', '.join(MODES)}", expression="mode")
    if mode == "delete" and fhir_id is None:
        raise BadRequest("mode delete needs an instance: POST [type]/[id]/$validate", expression="mode")
    return str(mode)


def outcome(resource_type: str, resource: object, mode: str, profile: object, fhir_id: str | None) -> list[Issue]:
    """What a write in ``mode`` would be refused for (empty: nothing)."""
    found: list[Issue] = []
    if isinstance(profile, str) and profile.split("|")[0] != CORE_PROFILE + resource_type:
        found.append(
            Issue(
                f"profile {profile[:100]!r} is not known to this server", code="not-supported", expression=("profile",)
            )
        )
    if mode == "delete":
        if resource_type in APPEND_ONLY:
            found.append(Issue(f"{resource_type} is append-only: it is never deleted", code="business-rule"))
        return found
    if not isinstance(resource, dict):
        raise BadRequest("$validate needs the resource to validate (the body, or the Parameters' resource)")
    if resource.get("resourceType") != resource_type:
        raise BadRequest(f"resourceType must be {resource_type} at this URL", expression="resourceType")
    check_resource(resource)  # control characters, huge numbers, nesting: as for a write
    if mode == "update":
        if "id" not in resource:
            found.append(
                Issue("an update must carry the resource id", code="required", expression=(f"{resource_type}.id",))
            )
        elif fhir_id is not None and resource["id"] != fhir_id:
            found.append(Issue(f"the id is not the instance's ({fhir_id})", expression=(f"{resource_type}.id",)))
    return found + validation.issues(resource, every_type=True)


async def _answer(
    store: FhirStore, request: Request, max_bytes: int, resource_type: str, fhir_id: str | None
) -> FhirResponse:
    check_format(request)
    check_type(resource_type)
    store.branches("validate", resource_type)  # Forbidden when the caller may not validate this type at all
    if fhir_id is not None:
        check_id(fhir_id)
        await store.read(resource_type, fhir_id)  # 404/410, or 403 when outside what the caller may read
    has_body = request.method == "POST" and request.headers.get("content-length", "0") != "0"
    body = await read_json(request, max_bytes=max_bytes) if has_body else None
    resource, mode, profile = _inputs(body, request)
    issues = outcome(resource_type, resource, _check_mode(mode, fhir_id), profile, fhir_id)
    if not issues:
        issues = [Issue("no problem found", code="informational", severity="information")]
    return FhirResponse(operation_outcome(issues))


@router.post("/{resource_type}/$validate", summary="$validate a resource of a type")
async def validate_type(resource_type: str, request: Request, store: StoreDep, settings: SettingsDep) -> FhirResponse:
    return await _answer(store, request, settings.max_request_bytes, resource_type, None)


@router.api_route("/{resource_type}/{fhir_id}/$validate", methods=["GET", "POST"], summary="$validate an instance")
async def validate_instance(
    resource_type: str, fhir_id: str, request: Request, store: StoreDep, settings: SettingsDep
) -> FhirResponse:
    return await _answer(store, request, settings.max_request_bytes, resource_type, fhir_id)
