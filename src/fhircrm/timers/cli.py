"""``fhircrm timers sweep``: dispatch every due timer now (on demand, or beside the workers' periodic sweep)."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

from fhircrm.config import get_settings

if TYPE_CHECKING:
    from fhircrm.runtime import Runtime
    from fhircrm.wiring import Wiring

#: builds the worker's wiring (passed in by the CLI, so that timers never import the worker)
WiringFactory = Callable[["Runtime"], "Wiring"]


def _sweep(build_wiring: WiringFactory, args: argparse.Namespace) -> int:
    import httpx

    from fhircrm.db import create_engine
    from fhircrm.runtime import Runtime
    from fhircrm.timers.sweep import sweep_until_idle

    settings = get_settings()
    now = datetime.fromisoformat(args.now.replace("Z", "+00:00")) if args.now else None

    async def run() -> int:
        engine = create_engine(settings.database_url)
        http = httpx.AsyncClient()
        try:
            dispatchers = build_wiring(Runtime(settings, engine, http)).timers  # every timer kind's dispatcher
            return await sweep_until_idle(engine, dispatchers=dispatchers, settings=settings, now=now)
        finally:
            await http.aclose()
            await engine.dispose()

    print(f"dispatched {asyncio.run(run())} timer(s)")
    return 0


def add_parser(commands: argparse._SubParsersAction, build_wiring: WiringFactory) -> None:
    timers = commands.add_parser("timers", help="durable timers (scheduled CommunicationRequests)")
    actions = timers.add_subparsers(dest="timers_command", required=True)
    sweep = actions.add_parser("sweep", help="dispatch every due timer, then exit")
    sweep.add_argument("--now", help="treat this instant as now (ISO 8601; simulations)")
    sweep.set_defaults(handler=partial(_sweep, build_wiring))
