"""Seed benchmark: how fast `fhircrm seed` loads the demo clinic through the FHIR API, on SQLite and PostgreSQL.

On demand, not in CI. Loads into a fresh scratch store (a temporary SQLite file, or a new PostgreSQL database
that is dropped afterwards) through the same in-process API path as ``fhircrm seed`` (transaction Bundles of
PUTs), and prints resources/s for the generator alone and for the whole load, and the projected time for
100,000 patients. ``--max-seconds`` stops a long run early and reports what it had done by then.

    .venv/bin/python benchmarks/seed.py --backend sqlite --patients 2000
    .venv/bin/python benchmarks/seed.py --backend postgresql --patients 2000 --streams 2
    .venv/bin/python benchmarks/seed.py --backend postgresql --patients 100000 --streams 2 --max-seconds 1800
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from fhircrm.config import Settings
from fhircrm.demo.generator import ClinicSpec, generate_clinic
from fhircrm.demo.seed import Progress, in_process_api, seed_clinic

TODAY = dt.date(2026, 3, 2)


def generator_rate(spec: ClinicSpec, limit: int = 2000) -> float:
    """Resources/s of the generator alone (the first `limit` patients): the ceiling of any load."""
    sample = ClinicSpec(patients=min(spec.patients, limit), days=spec.days, seed=spec.seed, today=spec.today)
    started = time.perf_counter()
    count = sum(len(batch) for batch in generate_clinic(sample))
    return count / (time.perf_counter() - started)


async def load(url: str, spec: ClinicSpec, streams: int, max_seconds: float) -> tuple[int, float, int]:
    settings = Settings(environment="development", database_url=url)
    progress = Progress(spec.patients, "seeding")
    async with in_process_api(settings) as client:
        started = time.perf_counter()
        try:
            await asyncio.wait_for(
                seed_clinic(client, spec, streams=streams, on_batch=progress.advance), timeout=max_seconds
            )
        except TimeoutError:
            pass
        finally:
            progress.close()
        return progress.resources, time.perf_counter() - started, progress.done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--streams", type=int, default=1, help="transactions in flight at once")
    parser.add_argument("--max-seconds", type=float, default=3600.0, help="stop early and report the rate so far")
    parser.add_argument(
        "--pg-admin-dsn", default=os.environ.get("FHIRCRM_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
    )
    args = parser.parse_args(argv)
    spec = ClinicSpec(patients=args.patients, days=args.days, seed=7, today=TODAY)

    print(f"generator alone: {generator_rate(spec):,.0f} resources/s")
    with tempfile.TemporaryDirectory() as tmp:
        name = f"fhircrm_seed_bench_{uuid.uuid4().hex[:8]}"
        if args.backend == "sqlite":
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'seed.sqlite3'}"
        else:
            with psycopg.connect(args.pg_admin_dsn, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            url = f"{args.pg_admin_dsn.rsplit('/', 1)[0]}/{name}".replace("postgresql://", "postgresql+psycopg://", 1)
        try:
            resources, seconds, patients = asyncio.run(load(url, spec, args.streams, args.max_seconds))
        finally:
            if args.backend == "postgresql":
                with psycopg.connect(args.pg_admin_dsn, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    rate = resources / seconds if seconds else 0.0
    per_patient = seconds / patients if patients else float("nan")
    projected = per_patient * 100_000 / 60
    print(
        f"{args.backend}, {args.streams} stream(s): {patients}/{args.patients} patients, {resources:,} resources "
        f"in {seconds:,.1f}s = {rate:,.0f} resources/s; 100,000 patients would take ~{projected:,.0f} min"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
