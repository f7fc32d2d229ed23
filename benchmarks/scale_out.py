"""Scale-out: several ``fhircrm serve`` replicas and several ``fhircrm worker`` processes on one PostgreSQL.

On demand, not in CI. For each layout (default: 2 APIs + 2 workers, then 1 + 1 for comparison) it creates a fresh
PostgreSQL database (FHIRCRM_TEST_PG_DSN's server, random name, dropped afterwards), runs ``fhircrm migrate``,
starts the API replicas on free loopback ports and the workers as child processes, the way an operator would, and
drives one load through the APIs round-robin (each request goes to the next replica, so a Patient is created on
one and its Appointment on the other) with a system token from the development authorization server:

  per patient: POST Patient (with a mobile number), POST a booked Appointment starting in 24 h + ``--lead``
  seconds, GET the patient's appointments, GET the Patient.

The appointment journey turns each booking into two timers: the confirmation (T-72h, already late: due now)
and the reminder (T-24h: due ``--lead`` seconds after the booking). The workers plan them (domain events), sweep
them (SKIP LOCKED, advisory-locked lanes) and send each as an SMS through a Twilio Messages API on loopback
(``tests/channels/loopback_twilio.py``), which counts what arrives. Printed per layout:

  - requests/s, p50 and p95 per API replica, and any non-2xx answer
  - each worker's share: jobs finished by kind, messages dispatched (Communications written), sends recorded;
    attributed with ``application_name`` (PGAPPNAME per process) by triggers this script adds to its scratch
    database (the product records no worker identity)
  - how long the backlog took to drain: from the end of the load until every message arrived and no job is due,
    and from the last reminder's due time
  - exactly once, as figures: messages the provider received vs expected, duplicates (a phone that got a
    message more than twice, and Communications per appointment and journey step above 1), missing ones
  - ERROR lines and tracebacks in the processes' logs

    .venv/bin/python benchmarks/scale_out.py                       # 100 patients: 2+2, then 1+1
    .venv/bin/python benchmarks/scale_out.py --patients 100 --layouts 2x2

See benchmarks/README.md for the figures measured so far.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.channels.loopback_twilio import LoopbackTwilio
from tests.channels.support import TWILIO
from tests.fixtures.servers import free_port, stop_processes, wait_until_up

from fhircrm.clock import fhir_datetime
from fhircrm.timers.resources import timer_key

DSN = os.environ.get("FHIRCRM_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
FHIRCRM = Path(sys.executable).with_name("fhircrm")
FHIR_JSON = "application/fhir+json"
DRAIN_DEADLINE = 300.0

#: Instrumentation of the scratch database only: which process (application_name) finished each job, wrote
#: each Communication (a dispatched message timer) and recorded each send.
TRIGGERS = """
CREATE TABLE bench_work (app text NOT NULL, what text NOT NULL);
CREATE FUNCTION bench_job_finished() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.status = 'pending' AND NEW.status <> 'pending' THEN
    INSERT INTO bench_work VALUES (current_setting('application_name'), 'job ' || NEW.kind || ' ' || NEW.status);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER bench_job AFTER UPDATE OF status ON job FOR EACH ROW EXECUTE FUNCTION bench_job_finished();
CREATE FUNCTION bench_message_written() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.res_type = 'Communication' THEN
    INSERT INTO bench_work VALUES (current_setting('application_name'), 'message dispatched');
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER bench_message AFTER INSERT ON resource FOR EACH ROW EXECUTE FUNCTION bench_message_written();
CREATE FUNCTION bench_sent() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.state = 'sent' AND (TG_OP = 'INSERT' OR OLD.state <> 'sent') THEN
    INSERT INTO bench_work VALUES (current_setting('application_name'), 'send recorded');
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER bench_delivery AFTER INSERT OR UPDATE OF state ON channel_delivery
  FOR EACH ROW EXECUTE FUNCTION bench_sent();
"""


@dataclass
class Replica:
    name: str
    base: str
    latencies: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(share * len(ordered)) - 1))]


# --- processes ----------------------------------------------------------------------------------------------


def environment(database_url: str, public_base: str, workdir: Path, provider: str) -> dict[str, str]:
    """What every node gets: the same database, public base URL (the token audience), issuer and keys."""
    issuer = public_base.rsplit("/fhir", 1)[0] + "/auth"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FHIRCRM_", "PGAPPNAME"))}
    env.update(
        {
            "PYTHONUNBUFFERED": "1",
            "FHIRCRM_ENVIRONMENT": "test",
            "FHIRCRM_DATABASE_URL": database_url,
            "FHIRCRM_BASE_URL": public_base,
            # The development authorization server plays the EHR's: it runs on the first replica, and every
            # replica checks its tokens against its JWKS (one key file shared by all, as a mounted secret would be).
            "FHIRCRM_DEV_AUTH_ENABLED": "true",
            "FHIRCRM_DEV_AUTH_KEY_FILE": str(workdir / "dev-auth-signing-key.json"),
            "FHIRCRM_AUTH_MODE": "jwt",
            "FHIRCRM_AUTH_ISSUER": issuer,
            "FHIRCRM_AUTH_JWKS_URL": f"{issuer}/jwks",
            "FHIRCRM_AUTH_AUTHORIZE_URL": f"{issuer}/authorize",
            "FHIRCRM_AUTH_TOKEN_URL": f"{issuer}/token",
            "FHIRCRM_CHANNELS_PUBLIC_URL": "https://crm.example.org",
            "FHIRCRM_TWILIO_API_BASE": provider,
        }
    )
    env.update({f"FHIRCRM_{k.upper()}": str(v) for k, v in TWILIO.items()})
    return env


def start(name: str, args: list[str], env: dict[str, str], workdir: Path) -> subprocess.Popen:
    log = (workdir / f"{name}.log").open("wb")
    process = subprocess.Popen(
        [str(FHIRCRM), *args], env={**env, "PGAPPNAME": name}, cwd=workdir, stdout=log, stderr=subprocess.STDOUT
    )
    log.close()
    return process


def log_problems(workdir: Path) -> dict[str, int]:
    found = {}
    for log in sorted(workdir.glob("*.log")):
        text = log.read_text(errors="replace")
        found[log.stem] = text.count("Traceback") + sum(
            " ERROR " in line or "ERROR:" in line for line in text.splitlines()
        )
    return found


# --- the load -----------------------------------------------------------------------------------------------


async def system_token(api: str) -> str:
    root = api.rsplit("/fhir", 1)[0]
    async with httpx.AsyncClient(timeout=30) as http:
        registered = await http.post(
            f"{root}/auth/register",
            json={"client_name": "scale-out", "token_endpoint_auth_method": "client_secret_basic"},
        )
        registered.raise_for_status()
        client = registered.json()
        answer = await http.post(
            f"{root}/auth/token",
            data={"grant_type": "client_credentials", "scope": "system/*.cruds"},
            auth=(client["client_id"], client["client_secret"]),
        )
        answer.raise_for_status()
        return answer.json()["access_token"]


class Load:
    def __init__(self, replicas: list[Replica], token: str, patients: int, clients: int, lead: float) -> None:
        self.replicas = replicas
        self.patients = patients
        self.clients = clients
        self.lead = lead
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": FHIR_JSON, "Accept": FHIR_JSON}
        self.turn = 0
        self.next_patient = 0
        self.last_reminder_due = datetime.now(UTC)

    def replica(self) -> Replica:
        self.turn += 1
        return self.replicas[self.turn % len(self.replicas)]

    async def call(self, http: httpx.AsyncClient, method: str, path: str, body: dict | None = None) -> dict:
        replica = self.replica()
        started = time.perf_counter()
        response = await http.request(method, f"{replica.base}/{path}", json=body, headers=self.headers)
        replica.latencies.append((time.perf_counter() - started) * 1000)
        if response.status_code >= 300:
            replica.errors[f"{method} {path.split('/')[0].split('?')[0]} {response.status_code}"] += 1
            return {}
        return response.json()

    async def client(self, http: httpx.AsyncClient) -> None:
        while self.next_patient < self.patients:
            n = self.next_patient
            self.next_patient += 1
            patient = {
                "resourceType": "Patient",
                "name": [{"given": ["Scale"], "family": f"Out{n}"}],
                "telecom": [{"system": "phone", "value": f"+1555{n:07d}", "use": "mobile"}],
            }
            created = await self.call(http, "POST", "Patient", patient)
            if not created:
                continue
            now = datetime.now(UTC)
            start = (now + timedelta(hours=24, seconds=self.lead)).replace(microsecond=0)
            self.last_reminder_due = max(self.last_reminder_due, start - timedelta(hours=24))
            appointment = {
                "resourceType": "Appointment",
                "status": "booked",
                "start": fhir_datetime(start),
                "end": fhir_datetime(start + timedelta(minutes=20)),
                "created": fhir_datetime(now - timedelta(days=3)),
                "participant": [{"actor": {"reference": f"Patient/{created['id']}"}, "status": "accepted"}],
            }
            await self.call(http, "POST", "Appointment", appointment)
            await self.call(http, "GET", f"Appointment?patient=Patient/{created['id']}")
            await self.call(http, "GET", f"Patient/{created['id']}")

    async def run(self) -> float:
        limits = httpx.Limits(max_connections=self.clients * len(self.replicas))
        async with httpx.AsyncClient(timeout=60, limits=limits) as http:
            started = time.perf_counter()
            await asyncio.gather(*(self.client(http) for _ in range(self.clients)))
            return time.perf_counter() - started


# --- what the database says ---------------------------------------------------------------------------------


QUIET = """
SELECT (SELECT count(*) FROM job WHERE status = 'pending' AND run_at <= now() AT TIME ZONE 'utc')
     + (SELECT count(*) FROM resource WHERE res_type = 'CommunicationRequest' AND NOT deleted
          AND content->>'status' = 'active' AND (content->>'occurrenceDateTime')::timestamptz <= now())
     + (SELECT count(*) FROM channel_delivery WHERE state <> 'sent'),
       (SELECT count(*) FROM resource WHERE res_type = 'Communication' AND NOT deleted)
"""


CONFIRMATIONS_SENT = """
SELECT count(*) FROM resource m
JOIN channel_delivery d ON d.communication_id = m.fhir_id AND d.state = 'sent'
JOIN resource t ON t.res_type = 'CommunicationRequest'
  AND m.content->'basedOn' @> jsonb_build_array(jsonb_build_object('reference', 'CommunicationRequest/' || t.fhir_id))
WHERE m.res_type = 'Communication' AND t.content->'identifier'->0->>'value' LIKE 'appointment:confirm:%'
"""


def confirmations_sent(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute(CONFIRMATIONS_SENT).fetchone()[0]


def backlog(dsn: str) -> tuple[int, int]:
    """Work that is due and not done (jobs, timers, unfinished sends), and the messages written so far."""
    with psycopg.connect(dsn) as conn:
        due, messages = conn.execute(QUIET).fetchone()
        return due, messages


def shares(dsn: str) -> dict[str, Counter]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT app, what, count(*) FROM bench_work GROUP BY app, what").fetchall()
    out: dict[str, Counter] = {}
    for app, what, count in rows:
        out.setdefault(app, Counter())[what] = count
    return out


def timers_by_step(dsn: str) -> Counter:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT content FROM resource WHERE res_type = 'CommunicationRequest' AND NOT deleted")
        return Counter(f"{(timer_key(c) or '::').split(':')[1]} {c['status']}" for (c,) in rows.fetchall())


def messages_per_step(dsn: str) -> Counter:
    """Communications per (appointment, journey step), through the timer each is based on."""
    with psycopg.connect(dsn) as conn:
        timers = conn.execute(
            "SELECT fhir_id, content FROM resource WHERE res_type = 'CommunicationRequest' AND NOT deleted"
        ).fetchall()
        messages = conn.execute(
            "SELECT content FROM resource WHERE res_type = 'Communication' AND NOT deleted"
        ).fetchall()
    step_of = {fid: (timer_key(content) or "::").split(":")[1] for fid, content in timers}
    sent: Counter = Counter()
    for (content,) in messages:
        refs = [r["reference"] for r in content.get("basedOn", [])]
        appointments = [r for r in refs if r.startswith("Appointment/")]
        for ref in refs:
            if ref.startswith("CommunicationRequest/"):
                sent[(appointments[0] if appointments else "?", step_of.get(ref.split("/")[1], "?"))] += 1
    return sent


def delivery_states(dsn: str) -> Counter:
    with psycopg.connect(dsn) as conn:
        return Counter(dict(conn.execute("SELECT state, count(*) FROM channel_delivery GROUP BY state").fetchall()))


# --- one layout ---------------------------------------------------------------------------------------------


def run_layout(apis: int, workers: int, args: argparse.Namespace) -> None:
    name = f"fhircrm_scale_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = f"{DSN.rsplit('/', 1)[0]}/{name}"
    database_url = dsn.replace("postgresql://", "postgresql+psycopg://", 1)
    workdir = Path(tempfile.mkdtemp(prefix="scale-out-"))
    processes: list[subprocess.Popen] = []
    print(f"\n== {apis} API process(es) + {workers} worker(s), {args.patients} patients; {uptime()}")
    try:
        with LoopbackTwilio(delay=0) as provider:
            ports = [free_port() for _ in range(apis)]
            public = f"http://127.0.0.1:{ports[0]}/fhir"  # behind a load balancer this is its address
            env = environment(database_url, public, workdir, provider.url)
            migrated = subprocess.run(
                [str(FHIRCRM), "migrate"], env=env, cwd=workdir, capture_output=True, text=True, check=False
            )
            if migrated.returncode != 0:
                raise RuntimeError(f"fhircrm migrate failed: {migrated.stderr[-2000:]}")
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(TRIGGERS)
            replicas = []
            for n, port in enumerate(ports, 1):
                serve = ["serve", "--workers", "1", "--host", "127.0.0.1", "--port", str(port)]
                processes.append(start(f"api-{n}", serve, env, workdir))
                base = f"http://127.0.0.1:{port}/fhir"
                wait_until_up(f"{base}/metadata", timeout=180, alive=processes[-1])
                replicas.append(Replica(f"api-{n}", base))
            processes += [start(f"worker-{n}", ["worker"], env, workdir) for n in range(1, workers + 1)]
            token = asyncio.run(system_token(public))

            load = Load(replicas, token, args.patients, args.clients, args.lead)
            elapsed = asyncio.run(load.run())
            load_end = time.monotonic()
            expected = 2 * args.patients
            print(
                f"load: {sum(len(r.latencies) for r in replicas)} requests in {elapsed:.1f} s, {args.clients} clients"
            )
            for replica in replicas:
                lat = replica.latencies
                print(
                    f"  {replica.name}: {len(lat)} requests, {len(lat) / elapsed:.0f}/s, "
                    f"p50 {statistics.median(lat):.1f} ms, "
                    f"p95 {percentile(lat, 0.95):.1f} ms, non-2xx {dict(replica.errors) or 0}"
                )

            quiet = 0  # two quiet looks in a row: nothing due, every message written was sent and arrived
            confirmed = None  # when the last confirmation (due at booking) had been sent
            while time.monotonic() - load_end < DRAIN_DEADLINE and quiet < 2:
                if confirmed is None and confirmations_sent(dsn) >= args.patients:
                    confirmed = time.monotonic() - load_end
                due, written = backlog(dsn)
                past = datetime.now(UTC) > load.last_reminder_due + timedelta(seconds=1)
                quiet = quiet + 1 if past and due == 0 and written == len(provider.received) else 0
                time.sleep(0.25)
            drained = time.monotonic() - load_end
            after_due = (datetime.now(UTC) - load.last_reminder_due).total_seconds()
            print(
                f"backlog: every confirmation (due at booking) sent "
                f"{'(never)' if confirmed is None else f'{confirmed:.1f} s'} after the load ended; "
                f"everything drained {drained:.1f} s after it, {after_due:.1f} s after the last reminder came due; "
                f"{len(provider.received)}/{expected} messages arrived"
            )
            time.sleep(args.settle)  # any late duplicate would arrive now
            stop_processes(*processes)

            per_worker = shares(dsn)
            for app in sorted(per_worker):
                work = per_worker[app]
                jobs = {k.split(" ", 1)[1]: v for k, v in sorted(work.items()) if k.startswith("job ")}
                print(
                    f"  {app}: {sum(jobs.values())} jobs {jobs}, {work['message dispatched']} messages dispatched, "
                    f"{work['send recorded']} sends recorded"
                )
            arrived = Counter(m["to"] for m in provider.received)
            duplicates = sum(c - 2 for c in arrived.values() if c > 2)
            missing = sum(max(0, 2 - arrived.get(f"+1555{n:07d}", 0)) for n in range(args.patients))
            steps = messages_per_step(dsn)
            step_duplicates = sum(c - 1 for c in steps.values() if c > 1)
            print(
                f"exactly once: {len(provider.received)} received / {expected} expected, duplicates {duplicates}, "
                f"missing {missing}; Communications per (appointment, step) above 1: {step_duplicates}; "
                f"steps {dict(Counter(step for _, step in steps.elements()))}; deliveries {dict(delivery_states(dsn))}"
            )
            print(f"timers (step status): {dict(sorted(timers_by_step(dsn).items()))}")
            print(f"log ERROR lines/tracebacks: {log_problems(workdir)}")
    finally:
        stop_processes(*processes)
        with psycopg.connect(DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        print(f"(logs in {workdir})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100)
    parser.add_argument("--clients", type=int, default=4, help="requests in flight")
    parser.add_argument("--lead", type=float, default=90.0, help="seconds from a booking to its reminder's due time")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds to wait for late duplicates")
    parser.add_argument("--layouts", default="2x2,1x1", help="APIsxworkers, comma separated")
    args = parser.parse_args()
    print(f"start: {uptime()}")
    for layout in args.layouts.split(","):
        apis, workers = (int(x) for x in layout.split("x"))
        run_layout(apis, workers, args)


if __name__ == "__main__":
    main()
