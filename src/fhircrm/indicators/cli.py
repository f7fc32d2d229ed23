"""``fhircrm indicators [--start D] [--end D] [--location ..] [--segment ..]``: print every indicator as JSON."""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import timedelta

from fhircrm.config import get_settings
from fhircrm.fhir.access import ServiceScope


def _run(args: argparse.Namespace) -> int:
    from fhircrm.clock import current_time, parse_fhir_datetime
    from fhircrm.db import create_engine
    from fhircrm.indicators.compute import compute_all
    from fhircrm.indicators.slices import Slice
    from fhircrm.stores import open_store

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
        engine = create_engine(settings.database_url)
        try:
            async with engine.connect() as conn:
                return await compute_all(open_store(conn, settings, policy=ServiceScope("indicators-cli")), s)
        finally:
            await engine.dispose()

    print(json.dumps({"slice": s.describe(), "indicators": asyncio.run(run())}, indent=2))
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("indicators", help="compute the indicators (JSON) for a period and slice")
    for name in ("start", "end", "location", "provider", "service-line", "channel", "segment"):
        parser.add_argument(f"--{name}")
    parser.set_defaults(handler=_run)
