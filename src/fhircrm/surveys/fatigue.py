"""Survey fatigue: at most one survey per patient per N days, and none while the patient has an open complaint."""

from __future__ import annotations

from datetime import datetime, timedelta

from fhircrm.clock import fhir_datetime
from fhircrm.fhir.store import FhirStore
from fhircrm.surveys.codes import OPEN_TASK_STATUSES, TASK_TYPE_SYSTEM
from fhircrm.surveys.replies import is_survey


async def blocked_by_fatigue(store: FhirStore, patient_ref: str, now: datetime, days: int) -> str | None:
    """Why a survey must not be sent now ("recent-survey", "open-complaint"), else None."""
    complaints = await store.search(
        "Task",
        [
            ("patient", patient_ref),
            ("code", f"{TASK_TYPE_SYSTEM}|complaint"),
            ("status", OPEN_TASK_STATUSES),
            ("_summary", "count"),
        ],
    )
    if complaints.total:
        return "open-complaint"
    # the purpose is in Communication.reasonCode, which R4 cannot search: read the patient's few recent messages
    recent = await store.search(
        "Communication",
        [
            ("recipient", patient_ref),
            ("status:not", "not-done"),
            ("_lastUpdated", f"gt{fhir_datetime(now - timedelta(days=days))}"),
            ("_count", "500"),
        ],
    )
    return "recent-survey" if any(is_survey(c) for c in recent.matches) else None
