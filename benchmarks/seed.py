"""Seed benchmark: `fhircrm seed` into a scratch store, then the population work over the seeded clinic.

On demand, not in CI. Seeds a fresh scratch store (a temporary SQLite file, or a new PostgreSQL database that is
dropped afterwards) through the same path as ``fhircrm seed`` (`run_seed`: transaction Bundles of PUTs through
the FHIR API of in-process apps, `--jobs` loader processes), prints the wall time and resources/s, then times
the segment refresh and every indicator over that clinic (``benchmarks/indicators.py``'s `time_population`).
``--max-seconds`` stops a long seed early and reports its rate so far (the timings are then skipped).

    .venv/bin/python benchmarks/seed.py --patients 2000 --target sqlite
    .venv/bin/python benchmarks/seed.py --patients 100000 --target postgresql
    .venv/bin/python benchmarks/seed.py --patients 100000 --target postgresql --jobs 2 --no-indicators
    .venv/bin/python benchmarks/seed.py --patients 10000 --target postgresql --keep     # prints the database
    .venv/bin/python benchmarks/seed.py --target postgresql --reuse fhircrm_seed_bench_ab12cd34  # re-time only

``--keep`` leaves the PostgreSQL database in place and ``--reuse NAME`` times an existing one without seeding,
so one seed serves many timing runs (drop it yourself afterwards; the clinic lives on its seeding day).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fhircrm.config import Settings
from fhircrm.demo.generator import ClinicSpec, generate_clinic
from fhircrm.demo.seed import Progress, default_jobs, run_seed
from indicators import time_population


def generator_rate(spec: ClinicSpec, limit: int = 2000) -> float:
    """Resources/s of the generator alone (the first `limit` patients): the ceiling of any load."""
    sample = ClinicSpec(patients=min(spec.patients, limit), days=spec.days, seed=spec.seed, today=spec.today)
    started = time.perf_counter()
    count = sum(len(batch) for batch in generate_clinic(sample))
    return count / (time.perf_counter() - started)


async def seed(settings: Settings, spec: ClinicSpec, jobs: int, max_seconds: float) -> tuple[int, float, int, bool]:
    """(resources, seconds, patients, finished) of one seed, stopped after `max_seconds`."""
    progress = Progress(spec.patients, "seeding")
    started = time.perf_counter()
    try:
        await asyncio.wait_for(run_seed(settings, spec, jobs=jobs, progress=progress), timeout=max_seconds)
        finished = True
    except TimeoutError:
        finished = False
    return progress.resources, time.perf_counter() - started, progress.done, finished


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", "--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--jobs", type=int, help="loader processes (default: as fhircrm seed for the target)")
    parser.add_argument("--max-seconds", type=float, default=4 * 3600.0, help="stop the seed early")
    parser.add_argument("--no-indicators", action="store_true", help="seed only")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database (name printed)")
    parser.add_argument("--reuse", metavar="DB", help="time an existing PostgreSQL database; no seed")
    parser.add_argument(
        "--pg-admin-dsn", default=os.environ.get("FHIRCRM_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
    )
    args = parser.parse_args(argv)
    now = dt.datetime.now(dt.UTC)  # the clinic lives today, so "the last 30 days" of the indicators hold data
    spec = ClinicSpec(patients=args.patients, days=args.days, seed=args.seed, today=now.date())
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    if not args.reuse:
        print(f"generator alone: {generator_rate(spec):,.0f} resources/s", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        name = args.reuse or f"fhircrm_seed_bench_{uuid.uuid4().hex[:8]}"
        keep = args.keep or bool(args.reuse)
        if args.reuse:
            url = f"{args.pg_admin_dsn.rsplit('/', 1)[0]}/{name}".replace("postgresql://", "postgresql+psycopg://", 1)
            settings = Settings(environment="development", database_url=url, embedded_worker=False)
            asyncio.run(time_population(url, settings, now, python_recount=False))
            return 0
        if args.target == "sqlite":
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'seed.sqlite3'}"
        else:
            with psycopg.connect(args.pg_admin_dsn, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            url = f"{args.pg_admin_dsn.rsplit('/', 1)[0]}/{name}".replace("postgresql://", "postgresql+psycopg://", 1)
        settings = Settings(environment="development", database_url=url, embedded_worker=False)
        jobs = default_jobs(settings, None) if args.jobs is None else args.jobs
        try:
            resources, seconds, patients, finished = asyncio.run(seed(settings, spec, jobs, args.max_seconds))
            rate = resources / seconds if seconds else 0.0
            print(
                f"seed, {args.target}, {jobs} loader process(es): {patients:,}/{args.patients:,} patients, "
                f"{resources:,} resources in {seconds:,.1f}s wall = {rate:,.0f} resources/s"
                + ("" if finished else f" (stopped after {args.max_seconds:,.0f}s)"),
                flush=True,
            )
            if finished and not args.no_indicators:
                asyncio.run(time_population(url, settings, now, python_recount=args.patients <= 20_000))
        finally:
            if args.target == "postgresql" and keep:
                print(f"kept database {name}", flush=True)
            elif args.target == "postgresql":
                with psycopg.connect(args.pg_admin_dsn, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
