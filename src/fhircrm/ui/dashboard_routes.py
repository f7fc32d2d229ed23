"""``/ui/dashboard``: no-show rates with trend, confirmations, response times and open work, as SVG charts."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request, Response

from fhircrm.deps import SessionStoreDep
from fhircrm.smartapp.guard import AppSessionDep
from fhircrm.smartapp.sessions import AppSession
from fhircrm.ui import charts, dashboard
from fhircrm.ui.access import require_clinical, require_signed_in_user, scopes, staff_of
from fhircrm.ui.common import page
from fhircrm.ui.web import PageRoute

router = APIRouter(route_class=PageRoute)
CACHE_SECONDS = 60.0
SLA_TONES = {"overdue": "bad", "due-soon": "warn", "on-track": "good", "no-due": "muted"}
SLA_LABELS = {"overdue": "Overdue", "due-soon": "Due within 24 h", "on-track": "On track", "no-due": "No due date"}


def _rate_bars(rates: dict, limit: int = 8) -> list[charts.Bar]:
    items = sorted(rates.items(), key=lambda kv: kv[1].percent, reverse=True)[:limit]
    return [
        charts.Bar(
            label,
            rate.percent,
            f"{rate.percent:.0f}% of {rate.total}",
            "bad" if rate.percent >= 20 else "warn" if rate.percent >= 10 else "good",
        )
        for label, rate in items
        if rate.total
    ]


async def _cached(request: Request, session: AppSession, store: SessionStoreDep) -> dict:
    """The figures, recomputed at most once a minute per process: they aggregate months of visits, and a
    minute-old dashboard is as good as a fresh one (``?refresh=1`` forces a recount). Kept per reach (scopes,
    launch patient, roles and team): one team's figures are never shown to another."""
    staff = staff_of(request)
    key = (session.scope, session.patient, staff.fingerprint() if staff else None)
    cache = getattr(request.app.state, "ui_dashboard", None)
    if not isinstance(cache, dict):
        cache = request.app.state.ui_dashboard = {}
    cached = cache.get(key)
    if cached and time.monotonic() - cached[0] < CACHE_SECONDS and not request.query_params.get("refresh"):
        return cached[1]
    data = await dashboard.gather(store)
    now = time.monotonic()
    for stale in [k for k, (at, _) in cache.items() if now - at >= CACHE_SECONDS]:
        del cache[stale]
    cache[key] = (now, data)
    return data


@router.get("/dashboard", name="dashboard")
async def dashboard_page(request: Request, session: AppSessionDep, store: SessionStoreDep) -> Response:
    require_clinical(request)
    require_signed_in_user(session)
    data = await _cached(request, session, store)
    groups = data["rates"]["groups"]
    conf = data["confirmations"]
    svg = {
        "trend": charts.trend("Weekly no-show rate", data["rates"]["trend"], period="Week ending"),
        "service": charts.bars("No-show rate by service line", _rate_bars(groups["service"]), scale=30),
        "location": charts.bars("No-show rate by location", _rate_bars(groups["location"]), scale=30),
        "provider": charts.bars("No-show rate by provider", _rate_bars(groups["provider"]), scale=30),
        "band": charts.bars("No-show rate by risk band", _rate_bars(groups["band"]), scale=30),
        "confirm": charts.bars(
            "Confirmations, next 14 days",
            [
                charts.Bar("Confirmed", conf["confirmed"], str(conf["confirmed"]), "good"),
                charts.Bar(
                    "Not confirmed",
                    conf["upcoming"] - conf["confirmed"],
                    str(conf["upcoming"] - conf["confirmed"]),
                    "warn",
                ),
                charts.Bar("Slots freed", conf["freed"], str(conf["freed"]), "muted"),
                charts.Bar("Slots recovered", conf["recovered"], str(conf["recovered"]), "info"),
            ],
        ),
        "first": charts.bars(
            "Median first response by channel (minutes)",
            [
                charts.Bar(c, v["first_minutes"], f"{v['first_minutes']:.0f} min")
                for c, v in data["channels"].items()
                if v["first_minutes"] is not None
            ],
        ),
        "resolution": charts.bars(
            "Median time to resolution by channel (hours)",
            [
                charts.Bar(c, v["resolution_hours"], f"{v['resolution_hours']:.1f} h", "muted")
                for c, v in data["channels"].items()
                if v["resolution_hours"] is not None
            ],
        ),
        "sla": charts.bars(
            "Open tasks by SLA state",
            [
                charts.Bar(SLA_LABELS[k], data["sla"].get(k, 0), str(data["sla"].get(k, 0)), tone)
                for k, tone in SLA_TONES.items()
            ],
        ),
    }
    return page(request, session, "dashboard.html", data=data, svg=svg, reach=_reach(request, session))


def _reach(request: Request, session: AppSession) -> str:
    """Whose visits and work the figures cover, in words (the store decides; this only says it)."""
    staff = staff_of(request)
    if session.patient and "user" not in {
        s.context for s in scopes(session).permission("search", "Appointment").grants
    }:
        return "the launch patient only (this sign-in reaches no other patient's visits)"
    if staff is None:
        return "the whole clinic"
    if staff.has("supervisor"):
        return "your team's patients and your organization's"
    if staff.has("coordinator"):
        return "your team's patients (the people who share your site)"
    return "your own patients"
