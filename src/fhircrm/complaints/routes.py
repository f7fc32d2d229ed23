"""``/api/complaints``: log a complaint from any channel, close it with its resolution."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from fhircrm.clock import current_time
from fhircrm.complaints.close import close_complaint
from fhircrm.complaints.intake import Complaint, open_complaint
from fhircrm.deps import StoreDep
from fhircrm.fhir.references import split

router = APIRouter(prefix="/api/complaints", tags=["complaints"])


class ComplaintIn(BaseModel):
    patient: str = Field(pattern=r"^Patient/[A-Za-z0-9\-.]{1,64}$")
    category: str = Field(min_length=1, max_length=100)
    severity: str = Field(pattern="^(critical|high|medium|low)$")
    description: str = Field("", max_length=4000)
    channel: str = "front-desk"
    location: str | None = Field(None, pattern=r"^Location/[A-Za-z0-9\-.]{1,64}$")
    service_line: str | None = None
    owner: str | None = None
    source: str | None = None


class CloseIn(BaseModel):
    resolution: str = Field("", max_length=4000)


@router.post("", status_code=201)
async def create(body: ComplaintIn, request: Request, store: StoreDep) -> dict:
    await store.read("Patient", split(body.patient)[1])  # 404 for an unknown patient
    return await open_complaint(store, Complaint(**body.model_dump()), current_time(request.app.state.settings))


@router.post("/{task_id}/close")
async def close(task_id: str, body: CloseIn, request: Request, store: StoreDep) -> dict:
    settings = request.app.state.settings
    return await close_complaint(store, task_id, body.resolution, settings=settings, now=current_time(settings))
