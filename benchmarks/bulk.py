"""Bulk Data export and import of N resources on PostgreSQL: resources/s and peak RSS of each.

On demand, not in CI:

    .venv/bin/python benchmarks/bulk.py --resources 100000

Creates two fresh databases next to the one ``--database-url`` names (dropped afterwards unless ``--keep``),
loads the deterministic data set of ``synthetic_fhir.py`` into the first through ``FhirStore.apply`` (untimed),
then, each in a child process of its own so that its peak RSS is its own (``wait4``):

- export: a system-level ``$export`` job run to completion by the worker's ``bulk.export`` steps (what a
  ``fhircrm worker`` does: read each step under the caller's policy, write its ndjson file, move the cursor);
- import: ``fhircrm import DIR`` of the exported files into the second database (the store's normal write
  path: validation, indexing, domain events), as an operator would run it.

It checks that the second database holds as many resources of each type as the first.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.fhir_api import create_database, drop_database, migrate, sqlalchemy_url
from benchmarks.synthetic_fhir import Generator, Plan

FHIRCRM = Path(sys.executable).with_name("fhircrm")


def load(dsn: str, resources: int) -> float:
    """Write the data set through the store, 500 resources a transaction; returns the seconds it took."""
    from fhircrm.config import Settings
    from fhircrm.db import create_engine
    from fhircrm.fhir.access import ServiceScope
    from fhircrm.fhir.store import FhirStore, Operation

    async def run() -> None:
        engine = create_engine(sqlalchemy_url(dsn))
        settings = Settings(environment="test", database_url=sqlalchemy_url(dsn))
        batch: list[Operation] = []
        try:
            for item in Generator(Plan(resources)).resources():
                batch.append(Operation("PUT", item["resourceType"], item["id"], item))
                if len(batch) == 500:
                    async with engine.begin() as conn:
                        await FhirStore(conn, max_count=settings.max_page_size, policy=ServiceScope("bench")).apply(
                            batch
                        )
                    batch = []
            if batch:
                async with engine.begin() as conn:
                    await FhirStore(conn, policy=ServiceScope("bench")).apply(batch)
        finally:
            await engine.dispose()

    started = time.monotonic()
    asyncio.run(run())
    return time.monotonic() - started


def export_phase(dsn: str, spool: Path) -> None:
    """(child) Kick off a system export as fhircrm itself, run the worker's steps to completion, spool the files."""
    import httpx
    import sqlalchemy as sa

    from fhircrm.bulk import export, jobs
    from fhircrm.bulk.install import install
    from fhircrm.bulk.tables import bulk_file
    from fhircrm.config import Settings
    from fhircrm.db import create_engine
    from fhircrm.fhir.access import ServiceScope
    from fhircrm.fhir.store import FhirStore
    from fhircrm.jobs.registry import JobRegistry
    from fhircrm.jobs.runner import JobRunner
    from fhircrm.runtime import Runtime
    from fhircrm.subscriptions.owners import SERVICE

    settings = Settings(environment="test", database_url=sqlalchemy_url(dsn))

    async def run() -> None:
        engine = create_engine(settings.database_url)
        registry = JobRegistry()
        async with httpx.AsyncClient() as http:
            install(Runtime(settings, engine, http), registry, None, [])
            started = time.monotonic()
            async with engine.begin() as conn:
                store = FhirStore(conn, policy=ServiceScope("benchmark"))
                params, cursor = await export.plan(store, export.parse("system", []))
                job_id = await jobs.create(
                    conn, "export", SERVICE, "benchmark", params, cursor, at=export.transaction_time()
                )
            runner = JobRunner(engine, registry)
            steps = 0
            while await runner.run_once():
                steps += 1
                if steps == 1:
                    print(f"peak RSS after the first step: {rss_mb():.0f} MB", flush=True)
            seconds = time.monotonic() - started
            print(f"peak RSS after the last step: {rss_mb():.0f} MB (before the files are spooled out)", flush=True)
            async with engine.connect() as conn:
                count = (
                    await conn.execute(sa.select(sa.func.sum(bulk_file.c.count)).where(bulk_file.c.job_id == job_id))
                ).scalar_one()
                rows = await conn.stream(
                    sa.select(bulk_file.c.id, bulk_file.c.res_type, bulk_file.c.content)
                    .where(bulk_file.c.job_id == job_id)
                    .order_by(bulk_file.c.id)
                )
                async for file_id, res_type, content in rows:
                    (spool / f"{file_id:06d}-{res_type}.ndjson").write_text(content)
            print(f"EXPORT {count} {seconds:.3f} {steps}", flush=True)
        await engine.dispose()

    asyncio.run(run())


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(args: list[str], env: dict[str, str] | None = None) -> tuple[str, float, float]:
    """Run a child process; (its stdout, wall seconds, its peak RSS in MB)."""
    started = time.monotonic()
    process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0,):
        raise SystemExit(f"{args[:3]} exited with {process.returncode}:\n{out}")
    return out, time.monotonic() - started, usage.ru_maxrss / 1024


def counts(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT res_type, count(*) FROM resource WHERE NOT deleted GROUP BY res_type").fetchall()
    return {t: n for t, n in rows if t != "AuditEvent"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resources", type=int, default=100_000)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("FHIRCRM_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test"),
        help="libpq DSN of an existing database used to create (and drop) the benchmark's own",
    )
    parser.add_argument("--keep", action="store_true", help="keep the benchmark databases afterwards")
    parser.add_argument("--phase", choices=["export"], help=argparse.SUPPRESS)
    parser.add_argument("--dsn", help=argparse.SUPPRESS)
    parser.add_argument("--spool", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase == "export":
        export_phase(args.dsn, Path(args.spool))
        return 0
    tag = uuid.uuid4().hex[:6]
    source_name, target_name = f"fhircrm_bulk_{args.resources}_{tag}", f"fhircrm_bulk_{args.resources}_{tag}_in"
    source, target = create_database(args.database_url, source_name), create_database(args.database_url, target_name)
    try:
        migrate(source)
        print(f"loading {args.resources} resources into {source_name} ...", flush=True)
        loaded = load(source, args.resources)
        print(f"loaded in {loaded:.1f}s ({args.resources / loaded:,.0f} resources/s through FhirStore.apply)")
        with psycopg.connect(source, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        with tempfile.TemporaryDirectory(prefix="fhircrm-bulk-") as folder:
            out, wall, export_rss = child(
                [sys.executable, __file__, "--phase", "export", "--dsn", source, "--spool", folder]
            )
            line = next(text for text in out.splitlines() if text.startswith("EXPORT "))
            _, exported, seconds, steps = line.split()
            for text in out.splitlines():
                if text.startswith("peak RSS"):
                    print(f"export: {text}")
            size = sum(p.stat().st_size for p in Path(folder).iterdir())
            print(
                f"export: {int(exported):,} resources in {float(seconds):.1f}s, {int(steps)} steps = "
                f"{int(exported) / float(seconds):,.0f} resources/s; peak RSS of the process {export_rss:.0f} MB; "
                f"{size / 1e6:.0f} MB of ndjson"
            )
            env = {k: v for k, v in os.environ.items() if not k.startswith("FHIRCRM_")}
            env.update(FHIRCRM_ENVIRONMENT="test", FHIRCRM_DATABASE_URL=sqlalchemy_url(target))
            out, wall, import_rss = child([str(FHIRCRM), "import", folder], env)
            summary = out.strip().splitlines()[-1]
            took = float(summary.split(" in ", 1)[1].split("s;", 1)[0])
            print(f"import: {summary}")
            print(
                f"import: {int(exported) / took:,.0f} resources/s ({int(exported) / wall:,.0f} with the command's "
                f"start-up and migration, {wall:.1f}s); peak RSS {import_rss:.0f} MB"
            )
        before, after = counts(source), counts(target)
        print("same resources per type:", before == after, f"({sum(after.values()):,} resources)")
        with open("/proc/loadavg") as handle:
            print("loadavg:", handle.read().strip())
    finally:
        if not args.keep:
            drop_database(args.database_url, source_name)
            drop_database(args.database_url, target_name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
