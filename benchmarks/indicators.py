"""Indicator computation over a demo clinic: seed N patients (through the FHIR API, like ``fhircrm seed``) into a
fresh database, load and refresh the shipped segments, then time every indicator, the dashboard figures (the
appointment measures and no-show breakdowns, from the maintained day sums) and the dashboard page's data.

    .venv/bin/python benchmarks/indicators.py --patients 2000                       # SQLite scratch file
    .venv/bin/python benchmarks/indicators.py --patients 10000 --pg postgresql://postgres@127.0.0.1:5432/test

`time_population` is the timing half on its own: ``benchmarks/seed.py`` runs it over the clinic it seeded.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import psycopg

from fhircrm.config import Settings
from fhircrm.db import create_engine
from fhircrm.demo.generator import ClinicSpec
from fhircrm.demo.seed import run_seed
from fhircrm.fhir.access import ServiceScope
from fhircrm.indicators.compute import INDICATORS, compute
from fhircrm.indicators.dashboard import dashboard_figures
from fhircrm.indicators.slices import Slice
from fhircrm.migrate import upgrade
from fhircrm.segments.load import load_segments
from fhircrm.segments.refresh import refresh_all
from fhircrm.stores import open_store


async def timed(label: str, work: Callable[[], Awaitable[object]]) -> float:
    """Run `work`, print and return its wall time in seconds."""
    started = time.perf_counter()
    await work()
    seconds = time.perf_counter() - started
    print(f"{label:32s} {1000 * seconds:9.0f} ms", flush=True)
    return seconds


async def time_population(url: str, settings: Settings, now: dt.datetime, *, python_recount: bool = True) -> None:
    """Time the segment refresh (twice: first load, then a no-change refresh), every indicator over the last
    30 days, a segment slice and the dashboard figures, over the clinic already stored at `url`."""
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            store = open_store(conn, settings, policy=ServiceScope("benchmark"))
            await load_segments(store)
            await timed("segments: refresh all, first", lambda: refresh_all(store, now))
        async with engine.begin() as conn:
            store = open_store(conn, settings, policy=ServiceScope("benchmark"))
            await timed("segments: refresh all, again", lambda: refresh_all(store, now))
        last30 = Slice(now - dt.timedelta(days=30), now)
        async with engine.connect() as conn:
            store = open_store(conn, settings, policy=ServiceScope("benchmark"))
            total = 0.0
            for name in INDICATORS:
                total += await timed(f"indicator {name}", lambda name=name: compute(store, name, last30))
            print(f"{'all indicators (30 days)':32s} {1000 * total:9.0f} ms")
            seg = Slice(last30.start, last30.end, segment="chronic-hypertension")
            await timed("no-show-rate, segment slice", lambda: compute(store, "no-show-rate", seg))
            await timed("dashboard figures, cold", lambda: dashboard_figures(store, now))
            for _ in range(3):
                await timed("dashboard figures, warm", lambda: dashboard_figures(store, now))
            if python_recount:
                from fhircrm.ui import dashboard

                await timed("dashboard page data (gather)", lambda: dashboard.gather(store))
    finally:
        await engine.dispose()


async def main(args: argparse.Namespace) -> None:
    if args.pg:
        name = f"fhircrm_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(args.pg, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = args.pg.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
    else:
        url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'bench.sqlite3'}"
    settings = Settings(environment="test", database_url=url, embedded_worker=False)
    engine = create_engine(url)
    await upgrade(engine)
    await engine.dispose()
    try:
        now = dt.datetime.now(dt.UTC)  # the UI's recount reads the wall clock, so the clinic lives today
        spec = ClinicSpec(patients=args.patients, days=args.days, seed=7, today=now.date())
        report = await run_seed(settings, spec, jobs=args.jobs)
        print(f"seeded {report.resources} resources for {args.patients} patients in {report.seconds:.0f}s")
        await time_population(url, settings, now)
    finally:
        if args.pg:
            with psycopg.connect(args.pg, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--jobs", type=int, help="seed loader processes (default: as fhircrm seed)")
    parser.add_argument("--pg", help="PostgreSQL admin DSN: benchmark on a scratch database there")
    asyncio.run(main(parser.parse_args()))
