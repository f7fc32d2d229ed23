"""``fhircrm demo``: one command from a fresh checkout to a running clinic to click through.

It uses the embedded default (a SQLite file under ``./fhircrm-data`` unless ``FHIRCRM_DATABASE_URL`` says
otherwise), migrates, loads the demo clinic through the API only if the store holds no demo data yet (so running
it twice never duplicates anything), turns on the development authorization server so a SMART launch works
without an EHR, then serves the API, the embedded worker and the UI, and prints where to go.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys
import time
from dataclasses import dataclass

import httpx

from fhircrm.clock import parse_fhir_datetime
from fhircrm.config import Settings, get_settings
from fhircrm.demo.generator import ClinicSpec
from fhircrm.demo.seed import Progress, demo_patient_count, in_process_api, quiet_http_log, seed_clinic

DEMO_PATIENT = "demo-pat-000001"
DEMO_USER = "PractitionerRole/demo-prrole-coord-01"  # a care coordinator: the worklist's owner


@dataclass(frozen=True)
class DemoOptions:
    host: str
    port: int
    patients: int = 200
    days: int = 120
    seed: int = 7


def demo_environment(host: str, port: int) -> None:
    """Development defaults for a demo (anything already set in the environment wins): authorization on, with
    the development authorization server as the issuer, so the printed links go through a real SMART launch and
    the API checks every token, the path production takes (``FHIRCRM_AUTH_MODE=none`` turns it off)."""
    root = f"http://{host}:{port}"
    os.environ.setdefault("FHIRCRM_ENVIRONMENT", "development")
    os.environ.setdefault("FHIRCRM_DEV_AUTH_ENABLED", "true")
    os.environ.setdefault("FHIRCRM_BASE_URL", f"{root}/fhir")
    if "FHIRCRM_AUTH_MODE" not in os.environ:
        issuer = os.environ.get("FHIRCRM_DEV_AUTH_ISSUER", f"{root}/auth").rstrip("/")
        os.environ.update(
            FHIRCRM_AUTH_MODE="jwt",
            FHIRCRM_AUTH_ISSUER=issuer,
            FHIRCRM_AUTH_JWKS_URL=f"{issuer}/jwks",
            FHIRCRM_AUTH_AUTHORIZE_URL=f"{issuer}/authorize",
            FHIRCRM_AUTH_TOKEN_URL=f"{issuer}/token",
        )
    get_settings.cache_clear()


def loader_settings(settings: Settings) -> Settings:
    """The settings of the demo's own loader: its app runs inside this process and never listens on a socket,
    so it writes as fhircrm itself (like ``fhircrm migrate``), whatever ``FHIRCRM_AUTH_MODE`` asks of callers
    from outside; under jwt its requests would otherwise need a token from an issuer that is not up yet."""
    return settings.model_copy(update={"auth_mode": "none"})


async def load_if_empty(settings: Settings, options: DemoOptions) -> int:
    """Seed the clinic unless demo data is already there; returns the number of resources written."""
    with quiet_http_log():  # the in-process client's one INFO line per request would bury what the demo prints
        return await _load(settings, options)


async def _load(settings: Settings, options: DemoOptions) -> int:
    async with in_process_api(loader_settings(settings)) as client:
        existing = await demo_patient_count(client)
        if existing:
            print(f"demo clinic already loaded ({existing} patients): nothing to seed", flush=True)
            return 0
        spec = ClinicSpec(patients=options.patients, days=options.days, seed=options.seed, today=dt.date.today())
        print(f"loading the demo clinic ({spec.patients} patients, {spec.days} days of history) ...", flush=True)
        progress = Progress(spec.patients, "seeding")
        try:
            report = await seed_clinic(client, spec, on_batch=progress.advance)
        finally:
            progress.close()
        print(f"loaded {report.resources} resources in {report.seconds:.1f}s", flush=True)
        return report.resources


async def seed_inbox(settings: Settings) -> int:
    """The scripted inbox conversations (``fhircrm.demo.conversations``); idempotent."""
    from fhircrm.db import create_engine
    from fhircrm.demo.conversations import seed_conversations
    from fhircrm.fhir.access import ServiceScope
    from fhircrm.stores import open_store

    engine = create_engine(settings.database_url)
    try:
        async with engine.begin() as conn:
            return await seed_conversations(open_store(conn, settings, policy=ServiceScope("demo")), settings)
    finally:
        await engine.dispose()


#: the statuses of a visit that was booked at some point (a live clinic assessed it then) or is asked for
ASSESSED_STATUSES = ("booked", "arrived", "checked-in", "fulfilled", "noshow", "cancelled", "pending", "proposed")


async def assess_seeded_visits(settings: Settings) -> int:
    """The no-show RiskAssessment of every demo visit that has none, made as of its booking (``created``);
    returns how many were written (none on a second start).

    The worker assesses a visit when it is booked (``fhircrm.noshow.install``: AppointmentBooked). The demo
    writes its history as it ended (fulfilled, no-show, cancelled) and its requests as pending or proposed, so
    none of those is ever booked in this store: without this, the dashboard's no-show rate by risk band had only
    "not assessed", and the upcoming requests on a patient's page too.
    """
    from fhircrm.db import create_engine
    from fhircrm.fhir.access import ServiceScope
    from fhircrm.fhir.paging import every_match
    from fhircrm.noshow.assess import assess_appointment, deferred_assessments
    from fhircrm.noshow.features import booked_at
    from fhircrm.stores import open_store

    engine = create_engine(settings.database_url)
    try:
        async with engine.begin() as conn:
            store = open_store(conn, settings, policy=ServiceScope("noshow"))
            assessed = {
                basis.get("reference")
                for risk in await every_match(store, "RiskAssessment", [])
                for basis in risk.get("basis", [])
            }
            visits = await every_match(store, "Appointment", [("status", ",".join(ASSESSED_STATUSES))])
            todo = [v for v in visits if f"Appointment/{v['id']}" not in assessed and v.get("start")]
            async with deferred_assessments(store):  # one write for all of them
                for visit in todo:
                    booked = booked_at(visit, parse_fhir_datetime(visit["start"]))
                    await assess_appointment(store, visit, settings=settings, now=booked)
            return len(todo)
    finally:
        await engine.dispose()


async def drain_backlog(settings: Settings) -> int:
    """Run the jobs the load queued (domain events of every seeded write) before serving.

    On SQLite the embedded worker and the API share one write lock; a backlog of thousands of events would keep
    the first page views waiting on it, so the demo works it off first and starts with a quiet queue.
    """
    from fhircrm.db import create_engine
    from fhircrm.jobs.runner import JobRunner
    from fhircrm.runtime import Runtime, create_http_client
    from fhircrm.worker import build_wiring

    engine = create_engine(settings.database_url)
    http = create_http_client()
    try:
        return await JobRunner(engine, build_wiring(Runtime(settings, engine, http)).jobs).drain()
    finally:
        await http.aclose()
        await engine.dispose()


async def _mint_launch(root: str, base: str) -> str | None:
    """An EHR launch for the demo patient from the development authorization server (valid for an hour)."""
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.post(f"{root}/auth/launch", json={"patient": DEMO_PATIENT, "fhirUser": DEMO_USER})
        if response.status_code != 201:
            return None
        launch = response.json()["launch"]
    except (httpx.HTTPError, KeyError, ValueError):
        return None
    return str(httpx.URL(f"{root}/app/launch", params={"iss": base, "launch": launch}))


def _banner(root: str, base: str, launch_url: str | None, secured: bool = False) -> str:
    lines = [
        "",
        "fhircrm demo clinic is running:",
        f"  FHIR API (metadata)        {base}/metadata",
        "  API authorization          "
        + (f"on: every request needs a token (development server at {root}/auth)" if secured else "off"),
        f"  Clinic workspace (sign in) {root}/app/sign-in",
        "                             (pick a care coordinator or clinician by name: worklist, inbox, dashboard)",
    ]
    if launch_url:
        lines.append(f"  Patient 360 (EHR launch)   {launch_url}")
        lines.append("                             (a development launch for the demo patient; valid for an hour)")
    lines += [
        f"  Open one patient           {root}/app/launch",
        "                             (pick who you are and a patient by name)",
        f"  Worklist                   {root}/ui/worklist",
        f"  Inbox                      {root}/ui/inbox",
        f"  Dashboard                  {root}/ui/dashboard",
        "  (the UI pages need a signed-in session: sign in first)",
        "",
        "Press Ctrl-C to stop.",
        "",
    ]
    return "\n".join(lines)


async def serve(settings: Settings, options: DemoOptions) -> None:
    """Run uvicorn with the app (the embedded worker runs inside it), then print the banner once it is up."""
    import uvicorn

    from fhircrm.app import create_app

    config = uvicorn.Config(
        create_app(settings),
        host=options.host,
        port=options.port,
        proxy_headers=True,
        log_level="warning",
        access_log=False,  # access logs carry URLs, which can carry PHI
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started and not task.done():  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
        await asyncio.sleep(0.05)
    if server.started:
        root = f"http://{options.host}:{options.port}"
        base = settings.base_url.rstrip("/")
        secured = settings.auth_mode != "none"
        print(_banner(root, base, await _mint_launch(root, base), secured), flush=True)
    await task


def run_demo(options: DemoOptions) -> int:
    demo_environment(options.host, options.port)
    settings = get_settings()
    started = time.monotonic()
    asyncio.run(load_if_empty(settings, options))
    if messages := asyncio.run(seed_inbox(settings)):
        print(f"seeded {messages} inbox message(s) across sms, WhatsApp and email", flush=True)
    print("working off the queued events (journeys, risk scores, worklists) ...", flush=True)
    jobs = asyncio.run(drain_backlog(settings))
    print(f"ran {jobs} queued job(s)", flush=True)
    if assessed := asyncio.run(assess_seeded_visits(settings)):
        print(f"assessed the no-show risk of {assessed} visit(s) as of their booking", flush=True)
    print(f"ready in {time.monotonic() - started:.1f}s; starting the server ...", file=sys.stderr, flush=True)
    asyncio.run(serve(settings, options))
    return 0
