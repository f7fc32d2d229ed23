"""The ``fhircrm`` command: serve, migrate (and, as they land, worker, demo, seed...)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from typing import TYPE_CHECKING

from fhircrm.config import Settings, get_settings
from fhircrm.logs import redact_database_errors

if TYPE_CHECKING:
    from fhircrm.runtime import Runtime
    from fhircrm.wiring import Wiring


def api_processes(settings: Settings, requested: int | None) -> int:
    """How many API processes ``serve`` runs: as asked, else one per core on PostgreSQL (requests are CPU-bound
    Python, one process uses one core) and one on the embedded SQLite store, whose file has one writer and whose
    API process also runs the worker, which must not run once per process."""
    if requested is not None:
        if requested < 1:
            raise SystemExit("fhircrm serve: --workers must be at least 1")
        if requested > 1 and settings.is_sqlite:
            raise SystemExit("fhircrm serve: the embedded SQLite store serves from one process (--workers 1)")
        return requested
    return 1 if settings.is_sqlite else len(os.sched_getaffinity(0))


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from fhircrm.console import quiet_logs

    quiet_logs(args.verbose)
    settings = get_settings()
    workers = api_processes(settings, args.workers)
    uvicorn.run(
        "fhircrm.app:create_app",
        factory=True,
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=workers,  # >1: a supervisor process and N children sharing the socket; SIGTERM stops them all
        # The supervisor kills a child that does not answer its ping within this; 5 s (uvicorn's default) is less
        # than a child's imports take on a busy machine, which then restarts children before they ever serve.
        timeout_worker_healthcheck=60,
        proxy_headers=True,
        log_level="info",
        access_log=False,  # access logs carry URLs, which can carry PHI
    )
    return 0


def _migrate(_args: argparse.Namespace) -> int:
    from fhircrm.db import create_engine
    from fhircrm.migrate import upgrade
    from fhircrm.shipped_content import install_default_journeys, install_shipped_topics

    settings = get_settings()

    async def run() -> tuple[dict[str, str], dict[str, str]]:
        engine = create_engine(settings.database_url)
        try:
            await upgrade(engine)
            installed = await install_shipped_topics(engine, settings)
            return await install_default_journeys(engine, settings), installed
        finally:
            await engine.dispose()

    journeys, topics = asyncio.run(run())
    print("database is at the latest revision")
    if journeys:
        print("journeys: " + ", ".join(f"{name} {what}" for name, what in sorted(journeys.items())))
    changed = sorted(f"{name} {what}" for name, what in topics.items() if what != "current")
    print(f"subscription topics: {len(topics)} shipped" + (f" ({', '.join(changed)})" if changed else ""))
    return 0


def _worker(args: argparse.Namespace) -> int:
    import signal

    from fhircrm.db import create_engine
    from fhircrm.jobs.runner import JobRunner
    from fhircrm.runtime import Runtime, create_http_client
    from fhircrm.worker import build_wiring, run_worker

    settings = get_settings()

    async def run() -> None:
        engine = create_engine(settings.database_url)
        http = create_http_client()
        runtime = Runtime(settings, engine, http)
        try:
            if args.once:
                print(f"ran {await JobRunner(engine, build_wiring(runtime).jobs).drain()} job(s)")
                return
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await run_worker(runtime, stop)
        finally:
            await http.aclose()
            await engine.dispose()

    asyncio.run(run())
    return 0


def _subscriptions(commands: argparse._SubParsersAction) -> None:
    from fhircrm.subscriptions.cli import add_parser

    add_parser(commands)


def _wiring(runtime: Runtime) -> Wiring:
    """The worker's wiring, for commands that run part of it (``fhircrm timers sweep``): imported when one runs."""
    from fhircrm.worker import build_wiring

    return build_wiring(runtime)


def _journeys_timers_noshow(commands: argparse._SubParsersAction) -> None:
    from fhircrm.journeys.cli import add_parser as add_journeys
    from fhircrm.noshow.cli import add_parser as add_noshow
    from fhircrm.timers.cli import add_parser as add_timers

    add_journeys(commands)
    add_timers(commands, _wiring)
    add_noshow(commands)


def _segments_indicators(commands: argparse._SubParsersAction) -> None:
    from fhircrm.indicators.cli import add_parser as add_indicators
    from fhircrm.segments.cli import add_parser as add_segments

    add_segments(commands)
    add_indicators(commands)


def _seed(args: argparse.Namespace) -> int:
    import datetime as dt

    from fhircrm.demo.generator import ClinicSpec
    from fhircrm.demo.seed import run_seed

    today = dt.date.fromisoformat(args.today) if args.today else dt.date.today()
    spec = ClinicSpec(patients=args.patients, days=args.days, seed=args.seed, today=today)
    report = asyncio.run(run_seed(get_settings(), spec, url=args.url, streams=args.streams, jobs=args.jobs))
    print(f"wrote {report.resources} resources in {report.batches} transactions, {report.seconds:.1f}s")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from fhircrm.console import quiet_logs
    from fhircrm.demo.launcher import DemoOptions, run_demo

    quiet_logs(args.verbose)

    settings = get_settings()
    options = DemoOptions(host=args.host or settings.host, port=args.port or settings.port)
    try:
        return run_demo(replace(options, patients=args.patients or options.patients, days=args.days or options.days))
    except KeyboardInterrupt:  # Ctrl-C is how the banner says to stop: no traceback
        print("fhircrm demo stopped", flush=True)
        return 0


def _demo_seed(commands: argparse._SubParsersAction) -> None:
    seed = commands.add_parser("seed", help="load a deterministic synthetic clinic through the FHIR API")
    seed.add_argument("--patients", type=int, default=300)
    seed.add_argument("--days", type=int, default=120, help="days of history before today")
    seed.add_argument("--seed", type=int, default=7, help="the same seed always gives the same clinic")
    seed.add_argument("--today", help="YYYY-MM-DD the clinic is generated around (default: today)")
    seed.add_argument("--url", help="a FHIR base URL to load instead of this installation's store")
    seed.add_argument("--streams", type=int, default=1, help="transactions in flight at once (with --jobs 0)")
    seed.add_argument(
        "--jobs",
        type=int,
        help="loaders at once: processes into this store (default 1 on SQLite, one per core up to 4 on "
        "PostgreSQL; 0 loads in this process), transactions in flight with --url (default 4)",
    )
    seed.set_defaults(handler=_seed)
    demo = commands.add_parser("demo", help="load the demo clinic (once), start everything, print where to go")
    demo.add_argument("--host")
    demo.add_argument("--port", type=int)
    demo.add_argument("--verbose", action="store_true", help="show every INFO log line (scheduler, HTTP)")
    demo.add_argument("--patients", type=int, help="size of the demo clinic on its first load (default 200)")
    demo.add_argument("--days", type=int, help="days of history on its first load (default 120)")
    demo.set_defaults(handler=_demo)


def _bulk(commands: argparse._SubParsersAction) -> None:
    from fhircrm.bulk.cli import add_parser

    add_parser(commands)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fhircrm", description="FHIR-native patient engagement server")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the API (stateless; run as many as you like)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument(
        "--workers", type=int, help="API processes (default: one per core on PostgreSQL, 1 on the SQLite store)"
    )
    serve.add_argument("--verbose", action="store_true", help="show every INFO log line (scheduler, HTTP)")
    serve.set_defaults(handler=_serve)
    worker = commands.add_parser("worker", help="run queued jobs and periodic sweeps (run one or many)")
    worker.add_argument("--once", action="store_true", help="run every due job, then exit")
    worker.set_defaults(handler=_worker)
    migrate = commands.add_parser("migrate", help="bring the database schema up to date")
    migrate.set_defaults(handler=_migrate)
    _subscriptions(commands)
    _journeys_timers_noshow(commands)
    _demo_seed(commands)
    _segments_indicators(commands)
    _bulk(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    redact_database_errors()  # no log line of any command carries a database error's text (SQL parameters)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # seven lines on import, every command
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
