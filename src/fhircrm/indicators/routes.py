"""``/api/indicators``: every indicator as JSON for the dashboard, one as a MeasureReport (optionally stored)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from fhircrm.clock import current_time, parse_fhir_datetime
from fhircrm.deps import StoreDep
from fhircrm.errors import BadRequest
from fhircrm.indicators.compute import compute, compute_all
from fhircrm.indicators.report import measure_report
from fhircrm.indicators.slices import Slice

router = APIRouter(prefix="/api/indicators", tags=["indicators"])


def _slice(
    request: Request,
    start: str | None = None,
    end: str | None = None,
    location: str | None = None,
    provider: str | None = None,
    service_line: str | None = None,
    channel: str | None = None,
    segment: str | None = None,
) -> Slice:
    """The period (default: the last 30 days) and dimensions an indicator is computed over."""
    now = current_time(request.app.state.settings)
    try:
        until = parse_fhir_datetime(end) if end else now
        since = parse_fhir_datetime(start) if start else until - timedelta(days=30)
    except ValueError as exc:
        raise BadRequest("start and end are FHIR dateTimes") from exc
    if since >= until:
        raise BadRequest("start must be before end")
    return Slice(
        since, until, location=location, provider=provider, service_line=service_line, channel=channel, segment=segment
    )


SliceDep = Annotated[Slice, Depends(_slice)]


@router.get("")
async def all_indicators(store: StoreDep, s: SliceDep) -> dict:
    return {"slice": s.describe(), "indicators": await compute_all(store, s)}


@router.get("/{indicator}")
async def one_indicator(
    indicator: str,
    request: Request,
    store: StoreDep,
    s: SliceDep,
    save: bool = Query(False, description="also store the MeasureReport"),
) -> dict:
    report = measure_report(indicator, s, await compute(store, indicator, s), current_time(request.app.state.settings))
    if save:
        report = (await store.create(report)).content or report
    return report
