"""The UI router (``/ui``): one sub-router per screen, all rendered through ``PageRoute``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from fhircrm.smartapp.guard import AppSessionDep
from fhircrm.ui import (
    admin_routes,
    attendance_routes,
    dashboard_routes,
    inbox_routes,
    patient_routes,
    patient_search,
    static_routes,
    worklist_routes,
)
from fhircrm.ui.web import PageRoute

router = APIRouter(prefix="/ui", route_class=PageRoute, include_in_schema=False)
for module in (
    static_routes,
    patient_search,
    patient_routes,
    worklist_routes,
    inbox_routes,
    dashboard_routes,
    attendance_routes,
    admin_routes,
):
    router.include_router(module.router)


@router.get("/", name="ui_home")
async def home(_request: Request, session: AppSessionDep) -> RedirectResponse:
    target = f"/ui/patients/{session.patient}" if session.patient else "/ui/worklist"
    return RedirectResponse(target, status_code=303)
