"""``POST /ehr/notifications/{name}`` (and ``PUT``/``DELETE .../{type}/{id}``): where the EHR notifies us.

The secret header is checked first (401), the body next (400); a valid notification is stored as a job in its
own transaction, committed before the 200 goes out. Processing happens later, from that record, in a worker.
"""

from __future__ import annotations

import re

import orjson
from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncEngine

from fhircrm.config import Settings
from fhircrm.errors import BadRequest, PayloadTooLarge, Unauthorized
from fhircrm.fhir.outcomes import FhirResponse, information
from fhircrm.fhir.search.dates import format_instant
from fhircrm.jobs import enqueue
from fhircrm.jobs.queue import utcnow
from fhircrm.subscriptions import watch
from fhircrm.subscriptions.hook_secrets import is_valid
from fhircrm.subscriptions.inbound import NOTIFICATION_JOB, job_payload

router = APIRouter(tags=["EHR"])
NAME = re.compile(r"^[A-Za-z0-9\-_.]{1,128}$")


async def _receive(request: Request, name: str, path_focus: str | None) -> FhirResponse:
    settings: Settings = request.app.state.settings
    if not NAME.match(name) or not is_valid(settings, name, request.headers.get(settings.ehr_notification_header)):
        raise Unauthorized("missing or wrong subscription secret")
    raw = await request.body()
    if len(raw) > settings.max_request_bytes:
        raise PayloadTooLarge("notification too large")
    try:
        body = orjson.loads(raw) if raw.strip() else None
    except orjson.JSONDecodeError:
        raise BadRequest("the notification is not valid JSON") from None
    payload, key = job_payload(name, body, path_focus=path_focus, received_at=format_instant(utcnow()))
    engine: AsyncEngine = request.app.state.engine
    async with engine.begin() as conn:
        stored = await enqueue(conn, NOTIFICATION_JOB, payload, dedupe_key=key)
        await watch.heard(conn, name, body)
    if isinstance(body, dict) and body.get("resourceType") == "Bundle":
        return FhirResponse(transaction_response(body))
    return FhirResponse(information("notification received" if stored else "duplicate notification ignored"))


def transaction_response(bundle: dict) -> dict:
    """What a sender that POSTs its notification as a transaction reads back (HAPI parses the reply as a
    Bundle, and counts anything else as a failed delivery): one ``200 OK`` per entry it sent."""
    entries = [{"response": {"status": "200 OK"}} for _ in bundle.get("entry") or []]
    return {"resourceType": "Bundle", "type": "transaction-response", "entry": entries}


@router.post("/ehr/notifications/{name}", summary="EHR subscription notifications (rest-hook, backport)")
async def notify(name: str, request: Request) -> FhirResponse:
    return await _receive(request, name, None)


@router.api_route("/ehr/notifications/{name}/{resource_type}/{fhir_id}", methods=["PUT", "POST", "DELETE"])
async def notify_resource(name: str, resource_type: str, fhir_id: str, request: Request) -> FhirResponse:
    """R4 rest-hook with a payload, sent HAPI-style to ``{endpoint}/{type}/{id}``: the resource with ``PUT``, and
    ``DELETE`` when it was deleted (HAPI, for Subscriptions carrying its send-delete-messages extension). A
    delete is checked at the EHR before our copy goes, as any id-only notification is."""
    return await _receive(request, name, f"{resource_type}/{fhir_id}")
