"""Close a complaint: a resolution is required; the patient's Flag is lifted and a closure survey is sent."""

from __future__ import annotations

from datetime import datetime

from fhircrm.clock import fhir_datetime
from fhircrm.complaints.codes import BUSINESS_STATUS_SYSTEM, FLAG_SYSTEM, OPEN_STATUSES, TASK_TYPE_SYSTEM
from fhircrm.config import Settings
from fhircrm.errors import Conflict, NotFound, Unprocessable
from fhircrm.fhir.store import FhirStore
from fhircrm.surveys import send_survey
from fhircrm.surveys.codes import CSAT_URL


async def close_complaint(
    store: FhirStore, task_id: str, resolution: str, *, settings: Settings, now: datetime
) -> dict:
    if not resolution or not resolution.strip():
        raise Unprocessable("closing a complaint needs its resolution")
    task = (await store.read("Task", task_id)).content or {}
    if not any(
        c.get("code") == "complaint" and c.get("system") == TASK_TYPE_SYSTEM
        for c in (task.get("code") or {}).get("coding", [])
    ):
        raise NotFound(f"no complaint Task/{task_id}")
    if task.get("status") not in OPEN_STATUSES:
        raise Conflict("this complaint is already closed")
    stamp = fhir_datetime(now)
    task["status"] = "completed"
    task["statusReason"] = {"text": resolution.strip()}
    task["output"] = [{"type": {"text": "resolution"}, "valueString": resolution.strip()}]
    task["businessStatus"] = {"coding": [{"system": BUSINESS_STATUS_SYSTEM, "code": "resolved"}]}
    task["executionPeriod"] = {**(task.get("executionPeriod") or {"start": stamp}), "end": stamp}
    task["lastModified"] = stamp
    closed = (await store.update("Task", task_id, task)).content or task
    flags = await store.search("Flag", [("identifier", f"{FLAG_SYSTEM}|Task/{task_id}")])
    for flag in flags.matches:
        if flag.get("status") == "active":
            await store.update(
                "Flag", flag["id"], {**flag, "status": "inactive", "period": {**flag.get("period", {}), "end": stamp}}
            )
    if patient := (task.get("for") or {}).get("reference"):
        await send_survey(
            store,
            patient=patient,
            questionnaire_url=CSAT_URL,
            touchpoint="complaint-closure",
            settings=settings,
            now=now,
            about=[f"Task/{task_id}"],
        )
    return closed
