"""``/ui/admin``: what is configured and how it is doing, read from settings and the store (no secrets shown)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from fhircrm.channels.codes import OUTBOUND_CHANNELS
from fhircrm.channels.providers import provider_for
from fhircrm.config import Settings
from fhircrm.deps import SessionStoreDep
from fhircrm.fhir.search.dates import format_instant
from fhircrm.smartapp.guard import AppSessionDep
from fhircrm.subscriptions import watch
from fhircrm.ui.access import require_administrator
from fhircrm.ui.common import page
from fhircrm.ui.fetch import parse_instant
from fhircrm.ui.web import PageRoute

router = APIRouter(route_class=PageRoute)


def _subscription_row(sub: dict) -> dict:
    channel = sub.get("channel") or {}
    return {
        "id": sub["id"],
        "status": sub.get("status", "unknown"),
        "criteria": sub.get("criteria", ""),
        "endpoint": channel.get("endpoint", ""),
        "type": channel.get("type", ""),
        "error": sub.get("error", ""),
        "updated": parse_instant((sub.get("meta") or {}).get("lastUpdated")),
        "healthy": sub.get("status") in ("active", "requested") and not sub.get("error"),
    }


def _watch_row(row: Any) -> dict:
    """One event's Subscription on the EHR as the watch sees it (``fhircrm subscriptions status`` shows the same)."""
    return {
        "event": row.event,
        "kind": row.kind,
        "heard": parse_instant(format_instant(row.last_heard_at)) if row.last_heard_at else None,
        "flag": row.flag_reason if row.flagged_at else "",
    }


@router.get("/admin", name="admin")
async def admin_page(request: Request, session: AppSessionDep, store: SessionStoreDep) -> Response:
    require_administrator(request, session)
    settings: Settings = request.app.state.settings
    subs = (await store.search("Subscription", [("_count", "100")])).matches
    watched = [_watch_row(row) for row in await watch.rows(store.conn)]
    journeys = (await store.search("PlanDefinition", [("_count", "100")])).matches
    ehr = {
        "configured": bool(settings.ehr_base_url),
        "base_url": settings.ehr_base_url or "",
        "auth": settings.ehr_auth,
        "polling": settings.ehr_poll_seconds,
        "writeback": ", ".join(settings.ehr_writeback_types) or "none",
    }
    channels = [
        {"channel": c, "provider": provider_for(settings, c), "live": provider_for(settings, c) != "local"}
        for c in OUTBOUND_CHANNELS
    ]
    return page(
        request,
        session,
        "admin.html",
        ehr=ehr,
        subscriptions=[_subscription_row(s) for s in subs],
        watched=watched,
        channels=channels,
        journeys=[
            {"id": j["id"], "title": j.get("title") or j.get("name") or j["id"], "status": j.get("status", "")}
            for j in journeys
        ],
        settings=settings,
    )
