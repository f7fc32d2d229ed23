"""``fhircrm journeys load [FILE ...]`` (default: the shipped journeys) and ``fhircrm journeys compile FILE``."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path


def _load(args: argparse.Namespace) -> int:
    from fhircrm.command_store import command_store
    from fhircrm.journeys.load import load_journeys

    async def run() -> list[str]:
        async with command_store("journeys-cli") as store:
            return await load_journeys(store, args.files or None)

    print("loaded journeys: " + ", ".join(asyncio.run(run())))
    return 0


def _compile(args: argparse.Namespace) -> int:
    from fhircrm.journeys import parse_journey, to_plan_definition

    print(json.dumps(to_plan_definition(parse_journey(args.file.read_text())), indent=2))
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:
    journeys = commands.add_parser("journeys", help="journeys as data (YAML compiled to PlanDefinition)")
    actions = journeys.add_subparsers(dest="journeys_command", required=True)
    load = actions.add_parser("load", help="store journeys in the FHIR store (default: the shipped ones)")
    load.add_argument("files", nargs="*", type=Path)
    load.set_defaults(handler=_load)
    compile_ = actions.add_parser("compile", help="print the PlanDefinition a YAML journey compiles to")
    compile_.add_argument("file", type=Path)
    compile_.set_defaults(handler=_compile)
