"""Write-back: CRM resources (Communication, Task ...) also kept in the EHR's server, per configured type.

A periodic sweep queues one job per new local version (``_lastUpdated`` cursor per type, dedupe key per
version); the job writes it to the EHR idempotently: conditional create on our identifier for a first version
(``If-None-Exist: identifier=<system>|<id>``), conditional update on it afterwards. A down EHR only delays the
jobs (``RetryLater``); a refused resource goes to the dead letters with the EHR's status. Engagement data of a
patient who objects to data sharing (``objections``) is not written: the job finishes without a call.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.config import Settings
from fhircrm.ehr.client import EhrClient
from fhircrm.ehr.cursors import get_cursor, set_cursor
from fhircrm.ehr.errors import EhrUnavailable
from fhircrm.ehr.objections import objects_to_sharing, patient_of
from fhircrm.errors import Gone, NotFound
from fhircrm.fhir.access import ServiceScope
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
    body = for_ehr(current)
    criteria = f"identifier={CRM_IDENTIFIER_SYSTEM}|{current['id']}"
    try:
        if current.get("meta", {}).get("versionId") == "1":
            await client.create(body, if_none_exist=criteria)
        else:
            await client.update(body, criteria=criteria)
    except EhrUnavailable as exc:
        raise RetryLater(str(exc), seconds=exc.retry_after) from None
