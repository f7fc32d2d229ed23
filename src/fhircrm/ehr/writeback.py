"""Write-back: CRM resources (Communication, Task ...) also kept in the EHR's server, per configured type.

A periodic sweep queues one job per new local version (``_lastUpdated`` cursor per type, dedupe key per
version); the job writes it to the EHR idempotently: conditional create on our identifier for a first version
(``If-None-Exist: identifier=<system>|<id>``), conditional update on it afterwards. References to what only
fhircrm has become logical references by that identifier (``resolvable``), so an EHR that checks referential
integrity accepts them. A down EHR only delays the jobs (``RetryLater``); a refused resource goes to the dead
letters with the EHR's status. Engagement data of a patient who objects to data sharing (``objections``) is not
written: the job finishes without a call.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.config import Settings
from fhircrm.ehr.client import EhrClient
from fhircrm.ehr.cursors import get_cursor, set_cursor
from fhircrm.ehr.errors import EhrUnavailable
from fhircrm.ehr.mirror import MIRRORED_TYPES, ehr_marks
from fhircrm.ehr.objections import objects_to_sharing, patient_of
from fhircrm.errors import Gone, NotFound
from fhircrm.fhir.access import ServiceScope
from fhircrm.fhir.store import FhirStore
from fhircrm.jobs import Job, enqueue
from fhircrm.jobs.registry import RetryLater
from fhircrm.stores import open_store

log = logging.getLogger(__name__)
WRITEBACK_JOB = "ehr-writeback"
WRITEBACK_TYPES = (
    "Communication",
    "CommunicationRequest",
    "Task",
    "QuestionnaireResponse",
    "Consent",
    "RiskAssessment",
)
CRM_IDENTIFIER_SYSTEM = "https://fhircrm.dev/id"


async def sweep(conn: AsyncConnection, settings: Settings) -> int:
    """Queue write-back jobs for versions written since the last sweep; returns how many were queued."""
    store = open_store(conn, settings, policy=ServiceScope("ehr-sync"))
    queued = 0
    for resource_type in [t for t in settings.ehr_writeback_types if t in WRITEBACK_TYPES]:
        name = f"writeback:{resource_type}"
        cursor = await get_cursor(conn, name)
        params = [("_sort", "_lastUpdated"), ("_count", "500")]
        if cursor:
            params.append(("_lastUpdated", f"ge{cursor}"))
        result = await store.search(resource_type, params)
        for resource in result.matches:
            meta = resource.get("meta", {})
            key = f"writeback:{resource_type}/{resource['id']}/{meta.get('versionId')}"
            queued += await enqueue(conn, WRITEBACK_JOB, {"type": resource_type, "id": resource["id"]}, dedupe_key=key)
            cursor = max(cursor or "", meta.get("lastUpdated", ""))
        if cursor:
            await set_cursor(conn, name, cursor)
    return queued


def for_ehr(resource: dict) -> dict:
    """Our resource as the EHR gets it: no server metadata, our id as an identifier."""
    body = {k: v for k, v in resource.items() if k not in ("id", "meta")}
    identifiers = [i for i in body.get("identifier", []) if i.get("system") != CRM_IDENTIFIER_SYSTEM]
    body["identifier"] = [*identifiers, {"system": CRM_IDENTIFIER_SYSTEM, "value": resource["id"]}]
    return body


async def resolvable(store: FhirStore, body: dict, *, ehr_base: str, our_base: str) -> dict:
    """``body`` with only references the EHR can resolve: an EHR that checks referential integrity (HAPI, by
    default) refuses a write naming a resource it does not have (``HAPI-1094``). A reference to something only
    fhircrm has (a CommunicationRequest of ours, a Patient created here) becomes a logical reference, by the
    identifier every written-back resource carries (``CRM_IDENTIFIER_SYSTEM``); references to the EHR's own
    resources (mirrors keep the EHR's ids) and contained ones stay as they are."""
    cache: dict[str, bool] = {}

    async def is_ehrs(resource_type: str, fhir_id: str) -> bool:
        key = f"{resource_type}/{fhir_id}"
        if key not in cache:
            if resource_type not in MIRRORED_TYPES:
                cache[key] = False
            else:
                try:
                    local = (await store.read(resource_type, fhir_id)).content
                except (NotFound, Gone):
                    local = None  # not here either: the EHR's, as far as we can tell
                source, _ = ehr_marks(local)
                cache[key] = local is None or (source or "").startswith(f"{ehr_base.rstrip('/')}/")
        return cache[key]

    async def walk(node: object) -> object:
        if isinstance(node, list):
            return [await walk(v) for v in node]
        if not isinstance(node, dict):
            return node
        out = {k: await walk(v) for k, v in node.items() if k != "contained"}
        if "contained" in node:
            out["contained"] = node["contained"]
        reference = out.get("reference")
        if isinstance(reference, str) and not reference.startswith("#"):
            relative = reference.removeprefix(our_base.rstrip("/") + "/")
            parts = relative.split("/")
            if "://" not in relative and len(parts) in (2, 4) and not await is_ehrs(parts[0], parts[1]):
                del out["reference"]
                out["type"] = parts[0]
                out["identifier"] = {"system": CRM_IDENTIFIER_SYSTEM, "value": parts[1]}
        return out

    return await walk(body)  # type: ignore[return-value]


async def write_back(conn: AsyncConnection, job: Job, *, client: EhrClient, settings: Settings) -> None:
    store = open_store(conn, settings, policy=ServiceScope("ehr-sync"))
    try:
        current = (await store.read(job.payload["type"], job.payload["id"])).content or {}
    except (NotFound, Gone):
        return  # deleted before we got to it: nothing to copy
    patient = patient_of(current)
    if patient and await objects_to_sharing(store, patient):
        log.info("write-back of %s/%s skipped: the patient objects to data sharing", job.payload["type"], current["id"])
        return
    body = await resolvable(store, for_ehr(current), ehr_base=client.base_url, our_base=settings.base_url)
    criteria = f"identifier={CRM_IDENTIFIER_SYSTEM}|{current['id']}"
    try:
        if current.get("meta", {}).get("versionId") == "1":
            await client.create(body, if_none_exist=criteria)
        else:
            await client.update(body, criteria=criteria)
    except EhrUnavailable as exc:
        raise RetryLater(str(exc), seconds=exc.retry_after) from None
