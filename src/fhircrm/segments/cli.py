"""``fhircrm segments load [FILE ...]`` (default: the shipped segments) and ``fhircrm segments refresh [ID]``."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from fhircrm.config import get_settings


async def _in_transaction(work):  # type: ignore[no-untyped-def]
    from fhircrm.command_store import command_store

    settings = get_settings()
    async with command_store("segments-cli", settings) as store:
        return await work(store, settings)


def _load(args: argparse.Namespace) -> int:
    from fhircrm.segments.load import load_segments

    loaded = asyncio.run(_in_transaction(lambda store, _s: load_segments(store, args.files or None)))
    print("loaded segments: " + ", ".join(loaded))
    return 0


def _refresh(args: argparse.Namespace) -> int:
    from fhircrm.clock import current_time
    from fhircrm.segments.refresh import refresh_all, refresh_segment

    async def work(store, settings):  # type: ignore[no-untyped-def]
        if args.segment:
            await refresh_segment(store, args.segment, current_time(settings))
            return 1
        return await refresh_all(store, current_time(settings))

    print(f"segments changed: {asyncio.run(_in_transaction(work))}")
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:
    segments = commands.add_parser("segments", help="patient segments (FHIR Groups defined by rules)")
    sub = segments.add_subparsers(dest="segments_command", required=True)
    load = sub.add_parser("load", help="load segment definitions (default: the shipped ones)")
    load.add_argument("files", nargs="*", type=Path)
    load.set_defaults(handler=_load)
    refresh = sub.add_parser("refresh", help="recompute memberships now (one segment or all)")
    refresh.add_argument("segment", nargs="?")
    refresh.set_defaults(handler=_refresh)
