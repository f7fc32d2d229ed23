"""The FHIR REST API under ``/fhir``: instance, type and system interactions.

Handlers are thin: parse the request, call the store, render the answer. Bundles (transaction/batch),
the CapabilityStatement and $operations live in their own modules.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.datastructures import QueryParams

from fhircrm.deps import SettingsDep, StoreDep
from fhircrm.errors import BadRequest, MethodNotAllowed, NotFound, NotImplementedYet, UnsupportedMediaType
from fhircrm.fhir import bundles
from fhircrm.fhir.inputs import check_search_pairs
from fhircrm.fhir.negotiation import Prefer, base_url, check_format, read_json, read_resource
from fhircrm.fhir.openapi_bodies import resource_body
from fhircrm.fhir.outcomes import FhirResponse, http_date, information
from fhircrm.fhir.search.dates import InvalidDate, date_range
from fhircrm.fhir.search.query import MAX_OFFSET, whole_number
from fhircrm.fhir.store import Outcome, check_type

router = APIRouter()


def _pretty(request: Request) -> bool:
    return request.query_params.get("_pretty") == "true"


def write_response(request: Request, outcome: Outcome, *, message: str) -> FhirResponse:
    headers = {"ETag": outcome.etag, "Last-Modified": http_date(outcome.last_updated)}
    if outcome.status == 201 or outcome.content is not None:
        headers["Location"] = f"{base_url(request)}/{outcome.location}"
    prefer = Prefer.of(request)
    if prefer.ret == "minimal" or outcome.content is None:
        body = None
    elif prefer.ret == "OperationOutcome":
        body = information(message)
    else:
        body = outcome.content
    return FhirResponse(body, outcome.status, headers, pretty=_pretty(request))


def resource_response(request: Request, content: dict, version: int, last_updated: datetime) -> FhirResponse:
    headers = {"ETag": f'W/"{version}"', "Last-Modified": http_date(last_updated)}
    return FhirResponse(content, 200, headers, pretty=_pretty(request))


def _search_pairs(params: QueryParams) -> list[tuple[str, str]]:
    return [(k, v) for k, v in params.multi_items()]


def _instant(name: str, value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return date_range(value)[0]
    except InvalidDate:
        raise BadRequest(f"{name} must be a FHIR instant", expression=name) from None


def _paging(request: Request) -> tuple[int, int | None]:
    params = request.query_params
    check_search_pairs(params.multi_items())
    offset = whole_number("_offset", params.get("_offset", "0"), maximum=MAX_OFFSET)
    count = whole_number("_count", params["_count"]) if "_count" in params else None
    return offset, count


async def _history(
    request: Request, store: StoreDep, path: str, resource_type: str | None = None, fhir_id: str | None = None
) -> FhirResponse:
    check_format(request)
    offset, count = _paging(request)
    since = _instant("_since", request.query_params.get("_since"))
    at = _instant("_at", request.query_params.get("_at"))
    entries, has_next = await store.history(resource_type, fhir_id, since=since, at=at, offset=offset, count=count)
    pairs = [(k, v) for k, v in request.query_params.multi_items() if k in ("_since", "_at")]
    bundle = bundles.history_bundle(
        entries,
        base=base_url(request),
        path=path,
        pairs=pairs,
        offset=offset,
        count=store._count(count),
        has_next=has_next,
    )
    return FhirResponse(bundle, pretty=_pretty(request))


async def _search(
    request: Request, store: StoreDep, resource_type: str | None, pairs: list[tuple[str, str]]
) -> FhirResponse:
    check_format(request)
    base = base_url(request)
    result = await store.search(resource_type, pairs, strict=Prefer.of(request).strict, base=base)
    path = resource_type or ""
    return FhirResponse(bundles.searchset(result, base=base, path=path), pretty=_pretty(request))


# --- system level ---------------------------------------------------------------------------------------------


@router.get("/_history", summary="System history")
async def system_history(request: Request, store: StoreDep) -> FhirResponse:
    return await _history(request, store, "_history")


@router.get("/", summary="System search (_id, _lastUpdated, _type)", include_in_schema=False)
async def system_search(request: Request, store: StoreDep) -> FhirResponse:
    return await _search(request, store, None, _search_pairs(request.query_params))


# --- type level -----------------------------------------------------------------------------------------------


@router.get("/{resource_type}", summary="Search")
async def search(resource_type: str, request: Request, store: StoreDep) -> FhirResponse:
    return await _search(request, store, resource_type, _search_pairs(request.query_params))


@router.post("/{resource_type}/_search", summary="Search by POST (form-encoded parameters)")
async def search_post(resource_type: str, request: Request, store: StoreDep) -> FhirResponse:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("", "application/x-www-form-urlencoded"):
        raise UnsupportedMediaType("POST _search takes an application/x-www-form-urlencoded body")
    form = await request.form()
    pairs = _search_pairs(request.query_params) + [(k, str(v)) for k, v in form.multi_items()]
    return await _search(request, store, resource_type, pairs)


@router.get("/{resource_type}/_history", summary="Type history")
async def type_history(resource_type: str, request: Request, store: StoreDep) -> FhirResponse:
    return await _history(request, store, f"{resource_type}/_history", resource_type)


@router.post("/{resource_type}", summary="Create (conditional with If-None-Exist)", openapi_extra=resource_body())
async def create(resource_type: str, request: Request, store: StoreDep, settings: SettingsDep) -> FhirResponse:
    check_format(request)
    body = await read_resource(request, max_bytes=settings.max_request_bytes)
    if body["resourceType"] != resource_type:
        raise BadRequest(
            f"resourceType {body['resourceType']!r} does not match the URL's {resource_type}",
            expression="resourceType",
        )
    outcome = await store.create(body, if_none_exist=request.headers.get("if-none-exist"))
    message = "created" if outcome.status == 201 else "a matching resource already exists"
    return write_response(request, outcome, message=message)


def _criteria(request: Request, resource_type: str) -> str:
    check_type(resource_type)
    pairs = [(k, v) for k, v in request.query_params.multi_items() if k not in ("_format", "_pretty")]
    criteria = urlencode(pairs)
    if not criteria:
        raise BadRequest("a conditional interaction needs search parameters in the URL")
    return criteria


@router.put("/{resource_type}", summary="Conditional update", openapi_extra=resource_body())
async def conditional_update(
    resource_type: str, request: Request, store: StoreDep, settings: SettingsDep
) -> FhirResponse:
    check_format(request)
    criteria = _criteria(request, resource_type)
    body = await read_resource(request, max_bytes=settings.max_request_bytes)
    outcome = await store.conditional_update(resource_type, criteria, body, if_match=request.headers.get("if-match"))
    return write_response(request, outcome, message="created" if outcome.created else "updated")


@router.patch("/{resource_type}", summary="Conditional patch (JSON Patch)")
async def conditional_patch(
    resource_type: str, request: Request, store: StoreDep, settings: SettingsDep
) -> FhirResponse:
    check_format(request)
    criteria = _criteria(request, resource_type)
    body = await _read_patch(request, settings.max_request_bytes)
    outcome = await store.conditional_patch(resource_type, criteria, body, if_match=request.headers.get("if-match"))
    return write_response(request, outcome, message="patched")


@router.delete("/{resource_type}", summary="Conditional delete (several with Prefer: delete=multiple)")
async def conditional_delete(resource_type: str, request: Request, store: StoreDep) -> FhirResponse:
    multiple = "delete=multiple" in request.headers.get("prefer", "")
    outcomes = await store.conditional_delete(resource_type, _criteria(request, resource_type), multiple=multiple)
    if not outcomes:
        return FhirResponse(information(f"no {resource_type} matched; nothing was deleted"), 200)
    headers = {"ETag": outcomes[0].etag} if len(outcomes) == 1 else {}
    return FhirResponse(information(f"deleted {len(outcomes)} {resource_type} resource(s)"), 200, headers)


async def _read_patch(request: Request, max_bytes: int) -> list:
    body = await read_json(request, max_bytes=max_bytes)
    if not isinstance(body, list):
        raise BadRequest("a JSON Patch body is a list of operations (application/json-patch+json)")
    return body


# --- instance level -------------------------------------------------------------------------------------------


@router.get("/{resource_type}/{fhir_id}", summary="Read")
async def read(resource_type: str, fhir_id: str, request: Request, store: StoreDep) -> FhirResponse:
    check_format(request)
    _refuse_operation(fhir_id)
    found = await store.read(resource_type, fhir_id)
    etag = f'W/"{found.version}"'
    if request.headers.get("if-none-match") == etag:
        return FhirResponse(None, 304, {"ETag": etag})
    return resource_response(request, found.content or {}, found.version, found.last_updated)


@router.put("/{resource_type}/{fhir_id}", summary="Update (or create with a client id)", openapi_extra=resource_body())
async def update(
    resource_type: str, fhir_id: str, request: Request, store: StoreDep, settings: SettingsDep
) -> FhirResponse:
    check_format(request)
    body = await read_resource(request, max_bytes=settings.max_request_bytes)
    outcome = await store.update(resource_type, fhir_id, body, if_match=request.headers.get("if-match"))
    return write_response(request, outcome, message="created" if outcome.created else "updated")


@router.patch("/{resource_type}/{fhir_id}", summary="Patch (JSON Patch)")
async def patch(
    resource_type: str, fhir_id: str, request: Request, store: StoreDep, settings: SettingsDep
) -> FhirResponse:
    check_format(request)
    body = await _read_patch(request, settings.max_request_bytes)
    outcome = await store.patch(resource_type, fhir_id, body, if_match=request.headers.get("if-match"))
    return write_response(request, outcome, message="patched")


@router.delete("/{resource_type}/{fhir_id}", summary="Delete")
async def delete(resource_type: str, fhir_id: str, request: Request, store: StoreDep) -> FhirResponse:
    outcome = await store.delete(resource_type, fhir_id)
    headers = {"ETag": outcome.etag} if outcome.version else {}
    return FhirResponse(None, 204, headers)


@router.get("/{resource_type}/{fhir_id}/_history", summary="Instance history")
async def instance_history(resource_type: str, fhir_id: str, request: Request, store: StoreDep) -> FhirResponse:
    return await _history(request, store, f"{resource_type}/{fhir_id}/_history", resource_type, fhir_id)


@router.get("/{resource_type}/{fhir_id}/_history/{version_id}", summary="Version read")
async def vread(resource_type: str, fhir_id: str, version_id: str, request: Request, store: StoreDep) -> FhirResponse:
    check_format(request)
    entry = await store.vread(resource_type, fhir_id, version_id)
    return resource_response(request, entry.content or {}, entry.version, entry.last_updated)


# --- what is not supported: a clear answer instead of a confusing one -------------------------------------------


def _refuse_operation(name: str) -> None:
    if name.startswith("$"):
        raise NotImplementedYet(f"operation {name[:40]} is not supported (see /fhir/metadata)")


@router.post("/{resource_type}/{name}", summary="Type-level operations (none but those listed in metadata)")
async def type_operation(resource_type: str, name: str) -> FhirResponse:
    _refuse_operation(name)
    raise MethodNotAllowed(f"POST is not allowed on {resource_type}/{name[:64]}; use PUT to update")


@router.api_route(
    "/{resource_type}/{fhir_id}/{name}", methods=["GET", "POST"], summary="Instance operations", include_in_schema=False
)
async def instance_operation(resource_type: str, fhir_id: str, name: str) -> FhirResponse:
    _refuse_operation(name)
    raise NotFound("no such endpoint")
