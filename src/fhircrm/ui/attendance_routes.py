"""``/ui/attendance``: the coming week's sessions with their expected no-shows, interval and possible extra bookings."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response

from fhircrm.deps import SessionStoreDep
from fhircrm.noshow.attendance import upcoming
from fhircrm.smartapp.guard import AppSessionDep
from fhircrm.ui.access import require_clinical, require_signed_in_user
from fhircrm.ui.clock import clinic_zone
from fhircrm.ui.common import page
from fhircrm.ui.web import PageRoute

router = APIRouter(route_class=PageRoute)


@router.get("/attendance", name="attendance")
async def attendance_page(request: Request, session: AppSessionDep, store: SessionStoreDep) -> Response:
    require_clinical(request)
    require_signed_in_user(session)
    settings = request.app.state.settings
    now = datetime.now(UTC)
    sessions = await upcoming(store, settings=settings, now=now, zone=clinic_zone(settings))
    return page(request, session, "attendance.html", sessions=sessions, now=now, active="dashboard")
