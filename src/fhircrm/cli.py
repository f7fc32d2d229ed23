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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fhircrm", description="FHIR-native patient engagement server")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the API (stateless; run as many as you like)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(handler=_serve)
    migrate = commands.add_parser("migrate", help="bring the database schema up to date")
    migrate.set_defaults(handler=_migrate)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
