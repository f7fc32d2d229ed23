"""``/ui/patients``: find a patient by name (or MRN) and open their 360, the way a coordinator's day starts
without a patient context. The search runs through the session's store, so it lists only the patients the
person's scopes and roles reach (a coordinator: their team's)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from fhircrm.deps import SessionStoreDep
from fhircrm.fhir.store import FhirStore
from fhircrm.smartapp.guard import AppSessionDep
from fhircrm.ui.access import require_clinical
from fhircrm.ui.common import page
from fhircrm.ui.fetch import human_name
from fhircrm.ui.web import PageRoute

router = APIRouter(route_class=PageRoute)
LIMIT = 50


def _row(patient: dict) -> dict:
    return {
        "id": patient["id"],
        "name": human_name(patient),
        "born": patient.get("birthDate", ""),
        "gender": patient.get("gender", ""),
        "mrn": next((i.get("value") for i in patient.get("identifier", [])), ""),
    }


async def find(store: FhirStore, query: str) -> list[dict]:
    """By name (every word must match a name part's start), else by identifier; sorted by family name."""
    words = query.split()[:4]
    params = [("_sort", "family,given"), ("_count", str(LIMIT))]
    found = (await store.search("Patient", [*params, *[("name", w) for w in words]])).matches
    if not found and len(words) == 1:
        found = (await store.search("Patient", [*params, ("identifier", words[0])])).matches
    return [_row(p) for p in found]


@router.get("/patients", name="patient_search")
async def patient_search(request: Request, session: AppSessionDep, store: SessionStoreDep) -> Response:
    require_clinical(request)
    query = request.query_params.get("q", "").strip()[:100]
    rows = await find(store, query)
    return page(request, session, "patients.html", rows=rows, query=query, limit=LIMIT)
