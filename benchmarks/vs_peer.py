"""fhircrm beside SEKMET (the third-party FHIR R4 server the tests use as an EHR), same workload, same client, one run.

On demand, not in CI. Starts SEKMET (its SQLite store in a scratch folder) and fhircrm on a fresh PostgreSQL
database (``fhircrm serve --workers N``, once per ``--workers`` value, each on a database of its own), and on each:

  (a) ingest: Patients with two Appointments each, ``--per-bundle`` patients per transaction Bundle (PUT Type/id)
  (b) single creates: ``POST Task``, ``--clients`` in flight at once: p50/p95 and creates/s
  (c) searches: a coordinator's worklist (the Tasks of (b)) and a day's booked Appointments (those of (a)), p95

then prints every side, fhircrm/SEKMET ratios and the scaling from the first to the last ``--workers`` value,
with the load average at the start (the machine is shared: compare columns of one run, not runs).

    .venv/bin/python benchmarks/vs_peer.py
    .venv/bin/python benchmarks/vs_peer.py --patients 6000 --creates 4000 --workers 1,2
"""

from __future__ import annotations

import argparse
import http.client
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.fhir_api import (
    FHIR_JSON,
    create_database,
    day_query,
    drop_database,
    fhircrm_process,
    migrate,
    percentiles,
    time_searches,
    worklist_query,
)
from benchmarks.synthetic_fhir import EPOCH, PER_PATIENT, Generator, Plan, fhir_id, instant

HEADERS = {"Content-Type": FHIR_JSON, "Accept": FHIR_JSON}


# --- the workload --------------------------------------------------------------------------------------------


def bundles(plan: Plan, per_bundle: int) -> Iterator[bytes]:
    """Staff first (one Bundle), then each patient with their first two Appointments, ``per_bundle`` patients
    per transaction: the synthetic clinic of ``benchmarks/fhir_api.py`` cut to Patient + 2 Appointments."""
    generator = Generator(plan)

    def bundle(resources: list[dict]) -> bytes:
        entries = [
            {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}} for r in resources
        ]
        return orjson.dumps({"resourceType": "Bundle", "type": "transaction", "entry": entries})

    yield bundle(list(generator.staff()))
    batch: list[dict] = []
    for number in range(plan.patients):
        record = generator.patient_record(number)
        batch += [record[0], *[r for r in record if r["resourceType"] == "Appointment"][:2]]
        if (number + 1) % per_bundle == 0:
            yield bundle(batch)
            batch = []
    if batch:
        yield bundle(batch)


def task_body(n: int, plan: Plan) -> bytes:
    """An open coordinator Task about a patient of the ingest, owned by one of the plan's PractitionerRoles."""
    authored = EPOCH + timedelta(minutes=(n * 37) % (365 * 1440))
    return orjson.dumps(
        {
            "resourceType": "Task",
            "status": ("requested", "ready", "in-progress")[n % 3],
            "intent": "order",
            "priority": ("routine", "urgent", "asap")[n % 3],
            "code": {"coding": [{"system": "http://fhircrm.example/task", "code": "call-back"}]},
            "description": "Call the patient back",
            "for": {"reference": f"Patient/{fhir_id('Patient', n % plan.patients)}"},
            "authoredOn": instant(authored),
            "owner": {"reference": f"PractitionerRole/{plan.role_id(n * 7)}"},
        }
    )


# --- one client for both servers: http.client, keep-alive, one connection per thread -------------------------


class Client:
    """A keep-alive HTTP/1.1 connection (stdlib http.client: little client CPU beside the servers')."""

    def __init__(self, base: str) -> None:
        url = urlsplit(base)
        self.path = url.path
        self.conn = http.client.HTTPConnection(url.hostname, url.port, timeout=600)

    def post(self, path: str, body: bytes, headers: dict[str, str] = HEADERS) -> tuple[int, bytes]:
        self.conn.request("POST", self.path + path, body=body, headers=headers)
        response = self.conn.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        self.conn.close()


def ingest(base: str, plan: Plan, *, per_bundle: int, clients: int) -> tuple[int, float]:
    """(resources, seconds): the staff Bundle first, then the patients' Bundles with ``clients`` in flight."""
    headers = {**HEADERS, "Prefer": "return=minimal"}
    local = threading.local()
    written = 0

    def post(body: bytes) -> None:
        if not hasattr(local, "client"):
            local.client = Client(base)
        status, text = local.client.post("", body, headers)
        if status != 200:
            raise RuntimeError(f"transaction refused: {status} {text[:500]!r}")

    bodies = bundles(plan, per_bundle)
    start = time.perf_counter()
    staff = next(bodies)
    post(staff)
    written += staff.count(b'"request"')
    with ThreadPoolExecutor(clients) as pool:
        pending = []
        for body in bodies:
            written += body.count(b'"request"')
            pending.append(pool.submit(post, body))
            if len(pending) >= clients * 2:
                pending.pop(0).result()
        for future in pending:
            future.result()
    return written, time.perf_counter() - start


def creates(base: str, plan: Plan, *, count: int, clients: int) -> tuple[list[float], float]:
    """Latencies (ms) of ``count`` ``POST Task`` with ``clients`` in flight, and the wall seconds they took."""
    bodies = [task_body(n, plan) for n in range(count)]
    timings: list[float] = []
    lock = threading.Lock()
    next_body = iter(range(count))

    def run() -> None:
        client = Client(base)
        mine = []
        for _ in range(5):  # warm the connection and the server's caches, untimed
            client.post("/Task", task_body(count + len(mine), plan))
        barrier.wait()
        while True:
            with lock:
                n = next(next_body, None)
            if n is None:
                break
            start = time.perf_counter()
            status, text = client.post("/Task", bodies[n])
            mine.append((time.perf_counter() - start) * 1000)
            if status != 201:
                raise RuntimeError(f"create refused: {status} {text[:300]!r}")
        client.close()
        with lock:
            timings.extend(mine)

    barrier = threading.Barrier(clients + 1)
    threads = [threading.Thread(target=run) for _ in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    return timings, time.perf_counter() - start


# --- one side, then the table --------------------------------------------------------------------------------


@dataclass
class Side:
    name: str
    figures: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def measure(name: str, base: str, plan: Plan, args: argparse.Namespace) -> Side:
    side = Side(name)
    resources, seconds = ingest(base, plan, per_bundle=args.per_bundle, clients=args.ingest_clients)
    side.figures["ingest"] = resources / seconds
    print(f"{name}: ingest {resources:,} resources in {seconds:.1f}s", flush=True)
    timings, seconds = creates(base, plan, count=args.creates, clients=args.clients)
    side.figures["create_rate"] = len(timings) / seconds
    side.figures["create_p50"], side.figures["create_p95"] = percentiles(timings)
    print(f"{name}: {len(timings)} creates in {seconds:.1f}s (load {os.getloadavg()[0]:.1f})", flush=True)
    searches: list[tuple[str, str, Callable[[int], list[tuple[str, str]]]]] = [
        ("worklist", "Task", lambda n: worklist_query(plan, n)),
        ("day", "Appointment", day_query),
    ]
    for label, resource_type, query in searches:
        try:
            timings, mean = time_searches(base, resource_type, [query(n) for n in range(args.searches)])
        except RuntimeError as exc:
            side.notes.append(f"{label} search refused ({str(exc)[:120]})")
            continue
        side.figures[f"{label}_p50"], side.figures[f"{label}_p95"] = percentiles(timings)
        side.notes.append(f"{label}: {mean:.0f} entries/page")
    return side


ROWS = (  # key, label, format, higher is better
    ("ingest", "(a) ingest, resources/s", "{:,.0f}", True),
    ("create_rate", "(b) single create, creates/s", "{:,.0f}", True),
    ("create_p50", "(b) single create p50, ms", "{:.1f}", False),
    ("create_p95", "(b) single create p95, ms", "{:.1f}", False),
    ("worklist_p95", "(c) worklist search p95, ms", "{:.1f}", False),
    ("day_p95", "(c) day search p95, ms", "{:.1f}", False),
)


def table(sides: list[Side], peer: Side | None) -> str:
    """Every side's figures, then the last fhircrm run over the peer and over the first fhircrm run."""
    ours = [s for s in sides if s is not peer]
    best = ours[-1]
    pairs = [*([(best, peer)] if peer else []), *([(best, ours[0])] if len(ours) > 1 else [])]
    header = ["figure", *(s.name for s in sides), *(f"{a.name} / {b.name}" for a, b in pairs)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for key, label, fmt, higher in ROWS:
        cells = [fmt.format(s.figures[key]) if key in s.figures else "n/a" for s in sides]
        ratios = []
        for a, b in pairs:
            if key in a.figures and key in b.figures and b.figures[key]:
                ratio = a.figures[key] / b.figures[key]
                better = ratio > 1 if higher else ratio < 1
                ratios.append(f"x{ratio:.2f}" + (" (better)" if better and not higher else ""))
            else:
                ratios.append("n/a")
        lines.append("| " + " | ".join([label, *cells, *ratios]) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=6000, help="patients ingested (each with 2 Appointments)")
    parser.add_argument("--per-bundle", type=int, default=200, help="patients per transaction Bundle")
    parser.add_argument("--ingest-clients", type=int, default=2, help="transactions in flight during (a)")
    parser.add_argument("--creates", type=int, default=3000, help="single POST Task requests timed in (b)")
    parser.add_argument("--clients", type=int, default=4, help="creates in flight during (b)")
    parser.add_argument("--searches", type=int, default=200, help="requests per timed search in (c)")
    parser.add_argument("--workers", default="1,2", help="fhircrm API processes, one run per value (e.g. 1,2)")
    parser.add_argument("--no-peer", action="store_true", help="fhircrm only")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("FHIRCRM_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test"),
        help="libpq DSN of an existing database used to create (and drop) the benchmark's own",
    )
    args = parser.parse_args(argv)
    plan = Plan(args.patients * PER_PATIENT)  # the synthetic clinic's staff for about that many patients
    load = os.getloadavg()
    print(f"load average at the start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {os.cpu_count()} CPUs", flush=True)
    sides: list[Side] = []
    for workers in [int(w) for w in args.workers.split(",")]:
        name = f"fhircrm_vs_peer_{uuid.uuid4().hex[:6]}"
        dsn = create_database(args.database_url, name)
        try:
            migrate(dsn)
            with fhircrm_process(dsn, workers=workers) as base:
                sides.append(measure(f"fhircrm x{workers}", base, plan, args))
        finally:
            drop_database(args.database_url, name)
    peer = None
    if not args.no_peer:
        from tests.fixtures.servers import sekmet_server

        with tempfile.TemporaryDirectory(prefix="sekmet-bench-") as workdir, sekmet_server(Path(workdir)) as server:
            peer = measure("SEKMET", server.base_url, plan, args)
            sides.append(peer)
    print(
        f"\n{plan.staff} staff + {plan.patients:,} patients x (1 Patient + 2 Appointments), "
        f"{args.per_bundle} patients per transaction; {args.creates} creates, {args.clients} in flight; "
        f"{args.searches} searches each; load average at the start {load[0]:.2f}\n"
    )
    print(table(sides, peer))
    for side in sides:
        if side.notes:
            print(f"{side.name}: " + "; ".join(side.notes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
