"""FHIR API benchmark: ingest, single creates and worklist searches against a real fhircrm on PostgreSQL.

On demand, not in CI. Creates a fresh database, starts ``fhircrm serve`` as a child process
on a free loopback port, and prints:

  (a) ingest rate of 500-entry transaction Bundles (fully indexed), resources/s
  (b) single ``POST Patient`` latency, p50/p95
  (c) search latency p50/p95: a coordinator worklist and a day's booked appointments
  (d) the raw PostgreSQL ``COPY`` rate of the same JSON into a plain table: the ceiling for (a)

    .venv/bin/python benchmarks/fhir_api.py --resources 100000
    .venv/bin/python benchmarks/fhir_api.py --resources 1000000 --explain

See benchmarks/README.md for the options and the figures measured so far.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx
import orjson
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.synthetic_fhir import DAYS, EPOCH, Generator, Plan, fhir_id

FHIR_JSON = "application/fhir+json"
ROOT = Path(__file__).resolve().parent.parent


# --- database and server -------------------------------------------------------------------------------------


def sqlalchemy_url(dsn: str) -> str:
    return dsn.replace("postgresql://", "postgresql+psycopg://", 1)


def database_dsn(admin_dsn: str, name: str) -> str:
    return f"{admin_dsn.rsplit('/', 1)[0]}/{name}"


def create_database(admin_dsn: str, name: str) -> str:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return database_dsn(admin_dsn, name)


def drop_database(admin_dsn: str, name: str) -> None:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrate(dsn: str) -> None:
    from fhircrm.db import create_engine
    from fhircrm.migrate import upgrade

    async def run() -> None:
        engine = create_engine(sqlalchemy_url(dsn))
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())


def free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def fhircrm_process(dsn: str, *, workers: int) -> Iterator[str]:
    """``fhircrm serve --workers N`` on a free port; yields the FHIR base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}/fhir"
    env = {
        **os.environ,
        "FHIRCRM_DATABASE_URL": sqlalchemy_url(dsn),
        "FHIRCRM_BASE_URL": base,
        "FHIRCRM_ENVIRONMENT": "test",
        "FHIRCRM_MAX_BUNDLE_ENTRIES": "5000",
    }
    command = [sys.executable, "-m", "fhircrm.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", str(workers)]
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 180  # a busy machine takes a while to import and migrate
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"fhircrm exited with {process.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/metadata", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError("fhircrm did not start")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- data ----------------------------------------------------------------------------------------------------


def spool_bundles(plan: Plan, path: Path, batch: int) -> int:
    """Write the transaction Bundles, one JSON line each (generation stays out of the timings)."""
    entries: list[dict] = []
    count = 0
    with path.open("wb") as out:
        for res in Generator(plan).resources():
            entries.append({"resource": res, "request": {"method": "PUT", "url": f"{res['resourceType']}/{res['id']}"}})
            count += 1
            if len(entries) == batch:
                out.write(orjson.dumps({"resourceType": "Bundle", "type": "transaction", "entry": entries}) + b"\n")
                entries = []
        if entries:
            out.write(orjson.dumps({"resourceType": "Bundle", "type": "transaction", "entry": entries}) + b"\n")
    return count


def read_bundles(path: Path) -> Iterator[bytes]:
    with path.open("rb") as lines:
        yield from lines


def transactions_supported(base: str) -> bool:
    empty = {"resourceType": "Bundle", "type": "transaction", "entry": []}
    response = httpx.post(base, json=empty, headers={"Content-Type": FHIR_JSON, "Accept": FHIR_JSON}, timeout=30)
    return response.status_code == 200


# --- (a) ingest ----------------------------------------------------------------------------------------------


def ingest_http(base: str, spool: Path, *, clients: int) -> None:
    headers = {"Content-Type": FHIR_JSON, "Accept": FHIR_JSON, "Prefer": "return=minimal"}

    def post(client: httpx.Client, body: bytes) -> None:
        response = client.post(base, content=body, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"transaction refused: {response.status_code} {response.text[:800]}")

    pool = [httpx.Client(timeout=600) for _ in range(clients)]
    with ThreadPoolExecutor(clients) as executor:
        pending = []
        for i, body in enumerate(read_bundles(spool)):
            pending.append(executor.submit(post, pool[i % clients], body))
            if len(pending) >= clients * 2:
                pending.pop(0).result()
        for future in pending:
            future.result()
    for client in pool:
        client.close()


def ingest_store(dsn: str, spool: Path, *, clients: int) -> None:
    """The write path of the transaction endpoint (``FhirStore.apply`` with the write-time listeners), in-process:
    what ingest costs without HTTP and JSON parsing."""
    from fhircrm.config import Settings
    from fhircrm.db import create_engine
    from fhircrm.fhir.access import ServiceScope
    from fhircrm.fhir.store import Operation
    from fhircrm.stores import open_store

    settings = Settings(environment="test", database_url=sqlalchemy_url(dsn))

    async def run() -> None:
        engine = create_engine(sqlalchemy_url(dsn))
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=clients * 2)

        async def worker() -> None:
            while (body := await queue.get()) is not None:
                entries = orjson.loads(body)["entry"]
                ops = [
                    Operation("PUT", e["resource"]["resourceType"], e["resource"]["id"], e["resource"]) for e in entries
                ]
                async with engine.begin() as conn:
                    await open_store(conn, settings, policy=ServiceScope("benchmark")).apply(ops)

        tasks = [asyncio.create_task(worker()) for _ in range(clients)]
        for body in read_bundles(spool):
            await queue.put(body)
        for _ in tasks:
            await queue.put(None)
        await asyncio.gather(*tasks)
        await engine.dispose()

    asyncio.run(run())


# --- (b) single creates and (c) searches ---------------------------------------------------------------------


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


def single_creates(base: str, count: int) -> list[float]:
    timings = []
    with httpx.Client(timeout=30, headers={"Content-Type": FHIR_JSON, "Accept": FHIR_JSON}) as client:
        for n in range(count):
            body = {
                "resourceType": "Patient",
                "identifier": [{"system": "urn:oid:1.2.3.4.5.1", "value": f"BENCH{n}-{uuid.uuid4().hex[:6]}"}],
                "name": [{"family": "Benchmark", "given": ["Single"]}],
                "gender": "female",
                "birthDate": "1980-01-01",
            }
            start = time.perf_counter()
            response = client.post(f"{base}/Patient", content=orjson.dumps(body))
            timings.append((time.perf_counter() - start) * 1000)
            if response.status_code != 201:
                raise RuntimeError(f"create refused: {response.status_code} {response.text[:300]}")
    return timings[5:]  # the first few warm connections and caches


def worklist_query(plan: Plan, n: int) -> list[tuple[str, str]]:
    return [
        ("status", "requested,ready"),
        ("owner", f"PractitionerRole/{fhir_id('PractitionerRole', (n * 7) % plan.roles)}"),
        ("_sort", "-priority,authored-on"),
        ("_count", "50"),
    ]


def day_query(n: int) -> list[tuple[str, str]]:
    day = (EPOCH + timedelta(days=(n * 11) % DAYS)).date()
    return [("date", f"ge{day}"), ("date", f"lt{day + timedelta(days=1)}"), ("status", "booked")]


def time_searches(base: str, resource_type: str, queries: list[list[tuple[str, str]]]) -> tuple[list[float], float]:
    timings, matches = [], 0
    with httpx.Client(timeout=60, headers={"Accept": FHIR_JSON}) as client:
        for params in queries[:5]:  # warm-up
            client.get(f"{base}/{resource_type}", params=params)
        for params in queries:
            start = time.perf_counter()
            response = client.get(f"{base}/{resource_type}", params=params)
            timings.append((time.perf_counter() - start) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"search refused: {response.status_code} {response.text[:300]}")
            matches += len(response.json().get("entry", []))
    return timings, matches / len(queries)


def explain(dsn: str, resource_type: str, params: list[tuple[str, str]]) -> str:
    """EXPLAIN ANALYZE of the page query fhircrm runs for a search (compiled in-process by the same code)."""
    from sqlalchemy.dialects import postgresql

    from fhircrm.fhir.search import query as search_query
    from fhircrm.fhir.sql import search as sql_search
    from fhircrm.fhir.sql.tables import resource

    parsed = search_query.parse(resource_type, params)
    order = []
    for code, descending in parsed.sort:
        key = sql_search._sort_key(resource_type, code, descending)
        order.append(key.desc().nulls_last() if descending else key.asc().nulls_last())
    statement = sql_search.compile_query(parsed).order_by(*order, resource.c.id).limit((parsed.count or 20) + 1)
    sql = str(statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    with psycopg.connect(dsn) as conn:
        plan = conn.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}").fetchall()
    return sql + "\n" + "\n".join(row[0] for row in plan)


# --- (d) the COPY ceiling ------------------------------------------------------------------------------------


def copy_rate(dsn: str, spool: Path) -> tuple[int, float]:
    with psycopg.connect(dsn) as conn:
        conn.execute("CREATE TABLE bench_copy (id bigserial PRIMARY KEY, res_type text, fhir_id text, content jsonb)")
        conn.commit()
        rows = 0
        start = time.perf_counter()
        with conn.cursor() as cur, cur.copy("COPY bench_copy (res_type, fhir_id, content) FROM STDIN") as copy:
            for body in read_bundles(spool):
                for entry in orjson.loads(body)["entry"]:
                    res = entry["resource"]
                    copy.write_row((res["resourceType"], res["id"], orjson.dumps(res).decode()))
                    rows += 1
        conn.commit()
        elapsed = time.perf_counter() - start
        conn.execute("DROP TABLE bench_copy")
        conn.commit()
    return rows, elapsed


# --- main ----------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resources", type=int, default=100_000, help="how many resources to ingest")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("FHIRCRM_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test"),
        help="libpq DSN of an existing database used to create (and drop) the benchmark's own",
    )
    parser.add_argument("--reuse", metavar="NAME", help="use this already loaded benchmark database; skip ingest")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database afterwards")
    parser.add_argument("--batch", type=int, default=500, help="entries per transaction Bundle")
    parser.add_argument("--clients", type=int, default=2, help="concurrent bundle posters")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument(
        "--ingest",
        choices=("auto", "http", "store"),
        default="auto",
        help="http: POST transaction Bundles; store: FhirStore.apply in-process; auto: http if offered",
    )
    parser.add_argument("--creates", type=int, default=300, help="single POST Patient requests to time")
    parser.add_argument("--searches", type=int, default=200, help="requests per timed search")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of both searches")
    parser.add_argument("--no-copy", action="store_true", help="skip (d), the raw COPY ceiling")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)

    plan = Plan(args.resources, seed=args.seed)
    name = args.reuse or f"fhircrm_bench_{args.resources}_{uuid.uuid4().hex[:6]}"
    dsn = database_dsn(args.database_url, name) if args.reuse else create_database(args.database_url, name)
    print(f"database {name}; {plan.roles} PractitionerRoles, {plan.patients} patients")
    spool = Path(tempfile.mkstemp(prefix="fhircrm-bench-", suffix=".ndjson")[1])
    figures: list[tuple[str, str]] = []
    try:
        migrate(dsn)
        if not (args.reuse and args.no_copy):
            start = time.perf_counter()
            total = spool_bundles(plan, spool, args.batch)
            size = spool.stat().st_size >> 20
            print(f"generated {total} resources in {time.perf_counter() - start:.1f}s ({size} MiB)", flush=True)
        with fhircrm_process(dsn, workers=args.workers) as base:
            if not args.reuse:
                mode = args.ingest
                if mode == "auto":
                    mode = "http" if transactions_supported(base) else "store"
                start = time.perf_counter()
                if mode == "http":
                    ingest_http(base, spool, clients=args.clients)
                else:
                    ingest_store(dsn, spool, clients=args.clients)
                elapsed = time.perf_counter() - start
                figures.append(
                    (
                        f"(a) ingest, {args.batch}-entry bundles via {mode}, {args.clients} clients",
                        f"{total / elapsed:,.0f} resources/s ({total:,} in {elapsed:.1f}s)",
                    )
                )
                print(figures[-1][0], figures[-1][1], flush=True)
                with psycopg.connect(dsn, autocommit=True) as conn:
                    conn.execute("VACUUM ANALYZE")
            p50, p95 = percentiles(single_creates(base, args.creates))
            figures.append(("(b) single POST Patient", f"p50 {p50:.1f} ms, p95 {p95:.1f} ms"))
            print(*figures[-1], flush=True)
            worklists = [worklist_query(plan, n) for n in range(args.searches)]
            timings, mean = time_searches(base, "Task", worklists)
            p50, p95 = percentiles(timings)
            figures.append(
                (
                    "(c) Task worklist (status, owner, _sort, _count=50)",
                    f"p50 {p50:.1f} ms, p95 {p95:.1f} ms, {mean:.0f} entries/page",
                )
            )
            days = [day_query(n) for n in range(args.searches)]
            timings, mean = time_searches(base, "Appointment", days)
            p50, p95 = percentiles(timings)
            figures.append(
                (
                    "(c) Appointment day (date ge/lt, status=booked)",
                    f"p50 {p50:.1f} ms, p95 {p95:.1f} ms, {mean:.0f} entries/page",
                )
            )
        if args.explain:
            print(explain(dsn, "Task", worklist_query(plan, 0)))
            print(explain(dsn, "Appointment", day_query(0)))
        if not args.no_copy:
            rows, elapsed = copy_rate(dsn, spool)
            figures.append(("(d) raw COPY of the same JSON into a plain table", f"{rows / elapsed:,.0f} rows/s"))
        with psycopg.connect(dsn) as conn:
            size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
        figures.append(("database size", size))
    finally:
        spool.unlink(missing_ok=True)
        if not (args.keep or args.reuse):
            drop_database(args.database_url, name)
    print(f"\nfhircrm FHIR API benchmark, {args.resources:,} resources, {os.cpu_count()} CPUs")
    for label, value in figures:
        print(f"  {label:<58} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
