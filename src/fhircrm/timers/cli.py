"""``fhircrm timers sweep``: dispatch every due timer now (on demand, or beside the workers' periodic sweep)."""

from __future__ import annotations

import argparse
import asyncio
from datetime import datetime

from fhircrm.config import get_settings


def _sweep(args: argparse.Namespace) -> int:
    import httpx

    from fhircrm.db import create_engine
    from fhircrm.runtime import Runtime
    from fhircrm.timers.sweep import sweep_until_idle
    from fhircrm.worker import build_registry

    settings = get_settings()
    now = datetime.fromisoformat(args.now.replace("Z", "+00:00")) if args.now else None

    async def run() -> int:
        engine = create_engine(settings.database_url)
        http = httpx.AsyncClient()
        try:
            build_registry(Runtime(settings, engine, http))  # registers every timer kind's dispatcher
            return await sweep_until_idle(engine, settings=settings, now=now)
        finally:
            await http.aclose()
            await engine.dispose()

    print(f"dispatched {asyncio.run(run())} timer(s)")
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:
    timers = commands.add_parser("timers", help="durable timers (scheduled CommunicationRequests)")
    actions = timers.add_subparsers(dest="timers_command", required=True)
    sweep = actions.add_parser("sweep", help="dispatch every due timer, then exit")
    sweep.add_argument("--now", help="treat this instant as now (ISO 8601; simulations)")
    sweep.set_defaults(handler=_sweep)
