"""``fhircrm indicators [--start D] [--end D] [--location ..] [--segment ..]``: print every indicator as JSON.

``fhircrm indicators rebuild``: recount the maintained appointment counts (``upkeep.rebuild``), once after the
migration that adds them, or whenever they are in doubt."""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import timedelta

from fhircrm.config import get_settings


def _rebuild() -> int:
    from fhircrm.db import create_engine
    from fhircrm.indicators.upkeep import rebuild

    async def run() -> int:
        engine = create_engine(get_settings().database_url)
        try:
            async with engine.begin() as conn:
                return await rebuild(conn)
        finally:
            await engine.dispose()

    print(json.dumps({"rebuilt": "indicator counts", "appointments": asyncio.run(run())}))
    return 0


def _run(args: argparse.Namespace) -> int:
    if args.action == "rebuild":
        return _rebuild()
    from fhircrm.clock import current_time, parse_fhir_datetime
    from fhircrm.command_store import command_store
    from fhircrm.indicators.compute import compute_all
    from fhircrm.indicators.slices import Slice

    settings = get_settings()
    end = parse_fhir_datetime(args.end) if args.end else current_time(settings)
    start = parse_fhir_datetime(args.start) if args.start else end - timedelta(days=30)
    s = Slice(
        start,
        end,
        location=args.location,
        provider=args.provider,
        service_line=args.service_line,
        channel=args.channel,
        segment=args.segment,
    )

    async def run() -> dict:
        async with command_store("indicators-cli", settings, transaction=False) as store:
            return await compute_all(store, s)

    print(json.dumps({"slice": s.describe(), "indicators": asyncio.run(run())}, indent=2))
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "indicators", help="compute the indicators (JSON) for a period and slice; 'rebuild' recounts their counts"
    )
    parser.add_argument("action", nargs="?", choices=("rebuild",), help="recount the maintained counts")
    for name in ("start", "end", "location", "provider", "service-line", "channel", "segment"):
        parser.add_argument(f"--{name}")
    parser.set_defaults(handler=_run)
