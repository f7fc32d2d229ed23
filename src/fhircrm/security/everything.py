"""``GET``/``POST /fhir/Patient/{id}/$everything``: the patient's compartment (``fhircrm.fhir.operations.everything``)
less what the patient's consent hides from this caller (``fhircrm.security.consent``)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request

from fhircrm.deps import SettingsDep, StoreDep
from fhircrm.errors import BadRequest
from fhircrm.fhir import bundles
from fhircrm.fhir.negotiation import base_url, check_format, read_json
from fhircrm.fhir.operations import Operations
from fhircrm.fhir.operations.everything import everything
from fhircrm.fhir.outcomes import FhirResponse
from fhircrm.fhir.search.dates import InvalidDate, date_range
from fhircrm.security.consent import hidden_from_export
from fhircrm.smart import AccessDep

router = APIRouter()
OPERATIONS = Operations(
    router, by_type={"Patient": (("everything", "http://hl7.org/fhir/OperationDefinition/Patient-everything"),)}
)


@router.api_route("/Patient/{patient_id}/$everything", methods=["GET", "POST"], summary="Patient $everything")
async def patient_everything(
    patient_id: str, request: Request, store: StoreDep, settings: SettingsDep, access: AccessDep
) -> FhirResponse:
    check_format(request)
    params = dict(request.query_params)
    if request.method == "POST" and request.headers.get("content-length", "0") != "0":
        params.update(_parameters(await read_json(request, max_bytes=settings.max_request_bytes)))
    since = _since(params.get("_since"))
    types = tuple(t.strip() for t in params.get("_type", "").split(",") if t.strip())
    offset, count = _whole(params, "_offset") or 0, _whole(params, "_count")
    hidden = await hidden_from_export(store, settings, patient_id, access)
    page = await everything(
        store, patient_id, since=since, types=types, offset=offset, count=count, hidden_types=hidden
    )
    pairs = [(k, params[k]) for k in ("_since", "_type") if k in params]
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": bundles.paging_links(
            base_url(request),
            f"Patient/{patient_id}/$everything",
            pairs,
            offset=offset,
            count=page.count,
            has_next=page.has_next,
        ),
        "entry": [
            {
                "fullUrl": f"{base_url(request)}/{r['resourceType']}/{r['id']}",
                "resource": r,
                "search": {"mode": "match"},
            }
            for r in page.resources
        ],
    }
    if offset == 0 and not page.has_next:
        bundle["total"] = len(page.resources)
    return FhirResponse(bundle, pretty=params.get("_pretty") == "true")


def _parameters(body: object) -> dict[str, str]:
    """The operation's parameters from a POSTed Parameters resource (``_since``, ``_type``, ``_count``)."""
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise BadRequest("POST $everything takes a Parameters resource", expression="resourceType")
    out: dict[str, str] = {}
    for item in body.get("parameter") or []:
        if not isinstance(item, dict):
            continue
        value = next((v for k, v in item.items() if k.startswith("value")), None)
        if isinstance(item.get("name"), str) and value is not None:
            name = item["name"]
            out[name] = f"{out[name]},{value}" if name == "_type" and name in out else str(value)
    return out


def _since(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return date_range(value)[0]
    except InvalidDate:
        raise BadRequest("_since must be a FHIR instant", expression="_since") from None


def _whole(params: dict[str, str], name: str) -> int | None:
    if name not in params:
        return None
    value = params[name]
    if not value.isdigit():
        raise BadRequest(f"{name} must be a whole number", expression=name)
    return int(value)
