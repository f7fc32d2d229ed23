"""The ``fhircrm`` command: serve, migrate (and, as they land, worker, demo, seed...)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from fhircrm.config import get_settings


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = get_settings()
    uvicorn.run(
        "fhircrm.app:create_app",
        factory=True,
        host=args.host or settings.host,
        port=args.port or settings.port,
        proxy_headers=True,
        log_level="info",
        access_log=False,  # access logs carry URLs, which can carry PHI
    )
    return 0


def _migrate(_args: argparse.Namespace) -> int:
    from fhircrm.db import create_engine
    from fhircrm.migrate import upgrade

    async def run() -> None:
        engine = create_engine(get_settings().database_url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())
    print("database is at the latest revision")
    return 0


def _worker(args: argparse.Namespace) -> int:
    import signal

    from fhircrm.db import create_engine
    from fhircrm.jobs.runner import JobRunner
    from fhircrm.runtime import Runtime, create_http_client
    from fhircrm.worker import build_registry, run_worker

    settings = get_settings()

    async def run() -> None:
        engine = create_engine(settings.database_url)
        http = create_http_client()
        runtime = Runtime(settings, engine, http)
        try:
            if args.once:
                registry, _periodic = build_registry(runtime)
                print(f"ran {await JobRunner(engine, registry).drain()} job(s)")
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fhircrm", description="FHIR-native patient engagement server")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the API (stateless; run as many as you like)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(handler=_serve)
    worker = commands.add_parser("worker", help="run queued jobs and periodic sweeps (run one or many)")
    worker.add_argument("--once", action="store_true", help="run every due job, then exit")
    worker.set_defaults(handler=_worker)
    migrate = commands.add_parser("migrate", help="bring the database schema up to date")
    migrate.set_defaults(handler=_migrate)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
