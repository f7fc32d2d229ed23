"""Where one single create spends its time: the whole ASGI request path, in-process, on a fresh PostgreSQL.

On demand, not in CI. Sends ``POST Task`` requests through ``httpx.ASGITransport`` to ``create_app`` (its
lifespan run, no network, no uvicorn), one at a time, and prints the mean wall time per request; with
``--profile`` it runs them under cProfile and prints the time per request of each stage of the path
(middleware, auth, roles, validation, the write, listeners, audit, commit, response) from the profile's
cumulative times. Instruction counts, less noisy than wall time on a shared machine, come from running it under
callgrind (see benchmarks/README.md).

    .venv/bin/python benchmarks/request_path.py --requests 2000
    .venv/bin/python benchmarks/request_path.py --requests 2000 --profile
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=/tmp/cg.out \
        .venv/bin/python benchmarks/request_path.py --requests 200 --warmup 50 --callgrind
    callgrind_annotate /tmp/cg.out | head -30        # the total: instructions for the 200 timed requests
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.fhir_api import FHIR_JSON, create_database, drop_database, migrate, sqlalchemy_url

#: stage -> the functions whose cumulative time is that stage (module path suffixes, function name)
STAGES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("whole request (FastAPI app, middleware included)", ("fastapi/applications.py",), "__call__"),
    ("  get_store: pool checkout + ping, BEGIN, SET LOCAL, audit, COMMIT", ("fhircrm/deps.py",), "get_store"),
    ("    COMMIT", ("psycopg/connection_async.py",), "commit"),
    ("    audit_success (enqueue the audit record)", ("audit/requests.py",), "audit_success"),
    ("  route handler (read body, store.create, response)", ("fhir/routes.py",), "create"),
    ("    read + parse body", ("fhir/negotiation.py",), "read_resource"),
    ("    store.apply", ("fhir/store.py",), "apply"),
    ("      validation", ("fhir/models.py", "fhir/validation.py"), "validate"),
    ("      write_versions (ids, resource, history, index rows)", ("fhir/sql/writer.py",), "write_versions"),
    ("        index extraction", ("fhir/search/extract.py",), "index_rows"),
    ("      domain events (derive + enqueue)", ("events/listener.py",), "emit_derived_events"),
    ("      subscription matching (active Subscriptions search)", ("subscriptions/publisher.py",), "notify"),
    ("    response building", ("fhir/routes.py",), "write_response"),
    ("  route matching (FastAPI)", ("fastapi/routing.py",), "_match"),
)


def task(n: int) -> bytes:
    return orjson.dumps(
        {
            "resourceType": "Task",
            "status": "requested",
            "intent": "order",
            "priority": "routine",
            "code": {"coding": [{"system": "http://fhircrm.example/task", "code": "call-back"}]},
            "description": "Call the patient back",
            "for": {"reference": f"Patient/bench-{n % 50}"},
            "authoredOn": "2026-12-01T10:00:00Z",
            "identifier": [{"system": "urn:bench", "value": f"T{n}-{uuid.uuid4().hex[:6]}"}],
        }
    )


def backend_cpu(dsn: str, database: str) -> float:
    """CPU seconds used so far by the PostgreSQL backends serving ``database`` (from /proc: same machine)."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        pids = [pid for (pid,) in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (database,))]
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime + stime
    return ticks / os.sysconf("SC_CLK_TCK")


def instrument(state: str) -> None:
    """Callgrind counts from here (``on``) or stops (``off``): the requests, not start-up and warm-up."""
    subprocess.run(["callgrind_control", f"--instr={state}", str(os.getpid())], check=True, capture_output=True)


@dataclass
class Costs:
    wall: float = 0.0  # seconds
    python_cpu: float = 0.0  # this process
    database_cpu: float = 0.0  # its PostgreSQL backends


async def run(
    database_url: str,
    *,
    requests: int,
    warmup: int,
    profile: cProfile.Profile | None,
    cpu: Callable[[], float],
    callgrind: bool = False,
) -> Costs:
    from fhircrm.app import create_app
    from fhircrm.config import Settings

    settings = Settings(environment="test", database_url=database_url, base_url="http://bench/fhir")
    app = create_app(settings, migrate=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"Content-Type": FHIR_JSON, "Accept": FHIR_JSON}
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", headers=headers) as client:
            for n in range(warmup):
                await client.post("/fhir/Task", content=task(n))
            bodies = [task(n) for n in range(requests)]
            costs = Costs(-time.perf_counter(), -time.process_time(), -cpu())
            if callgrind:
                instrument("on")
            if profile is not None:
                profile.enable()
            for body in bodies:
                response = await client.post("/fhir/Task", content=body)
                if response.status_code != 201:
                    raise RuntimeError(f"create refused: {response.status_code} {response.text[:300]}")
            if profile is not None:
                profile.disable()
            if callgrind:
                instrument("off")
            costs.wall += time.perf_counter()
            costs.python_cpu += time.process_time()
            costs.database_cpu += cpu()
    return costs


def stage_table(profile: cProfile.Profile, requests: int) -> list[tuple[str, float]]:
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    rows = []
    for label, paths, name in STAGES:
        total = sum(
            cumulative
            for (filename, _line, function), (_cc, _nc, _tt, cumulative, _callers) in stats.items()
            if function == name and filename.endswith(paths)
        )
        rows.append((label, total / requests * 1e6))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--profile", action="store_true", help="cProfile the timed requests; print the stages")
    parser.add_argument("--top", type=int, default=0, help="also print the profile's top N functions (tottime)")
    parser.add_argument(
        "--callgrind", action="store_true", help="under valgrind --instr-atstart=no: count only the timed requests"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("FHIRCRM_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test"),
        help="libpq DSN of an existing database used to create (and drop) the benchmark's own",
    )
    args = parser.parse_args(argv)
    name = f"fhircrm_bench_path_{uuid.uuid4().hex[:6]}"
    dsn = create_database(args.database_url, name)
    profile = cProfile.Profile(time.process_time) if args.profile else None  # CPU: the machine is shared
    try:
        migrate(dsn)
        costs = asyncio.run(
            run(
                sqlalchemy_url(dsn),
                requests=args.requests,
                warmup=args.warmup,
                profile=profile,
                cpu=lambda: backend_cpu(args.database_url, name),
                callgrind=args.callgrind,
            )
        )
    finally:
        drop_database(args.database_url, name)
    each = 1e6 / args.requests
    print(
        f"{args.requests} POST Task in-process (load {os.getloadavg()[0]:.2f}): wall {costs.wall * each:.0f} us, "
        f"Python CPU {costs.python_cpu * each:.0f} us, PostgreSQL CPU {costs.database_cpu * each:.0f} us per request"
    )
    if profile is not None:
        rows = stage_table(profile, args.requests)
        whole = rows[0][1] or 1.0
        calls = pstats.Stats(profile).total_calls / args.requests  # type: ignore[attr-defined]
        print(f"\n{calls:,.0f} Python calls per request; stage (cumulative CPU, profiled)   share")
        for label, micros in rows:
            print(f"  {label:<68} {micros / whole:6.1%}")
        if args.top:
            pstats.Stats(profile).sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
