"""``fhircrm subscriptions register|list|status|delete``: our Subscriptions on the EHR, from the command line."""

from __future__ import annotations

import argparse
import asyncio
import json

from fhircrm.config import Settings, get_settings
from fhircrm.ehr.client import build_client
from fhircrm.runtime import create_http_client
from fhircrm.subscriptions import registration


async def run(action: str, settings: Settings, *, kind: str | None = None, names: list[str] | None = None) -> object:
    http = create_http_client()
    try:
        client = build_client(settings, http)
        if action == "register":
            return [r.__dict__ for r in await registration.register(client, settings, kind=kind, names=names)]
        if action == "list":
            return [r.__dict__ for r in await registration.list_ours(client, settings)]
        if action == "status":
            return await registration.status(client, settings)
        return await registration.delete(client, settings, names=names)
    finally:
        await http.aclose()


def command(args: argparse.Namespace) -> int:
    kind = None if args.kind == "all" else args.kind
    result = asyncio.run(run(args.action, get_settings(), kind=kind, names=args.name or None))
    print(json.dumps(result, indent=2, default=str))
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("subscriptions", help="manage fhircrm's Subscriptions on the EHR")
    parser.add_argument("action", choices=("register", "list", "status", "delete"))
    parser.add_argument("--kind", choices=("criteria", "topic-based", "all"), default="all")
    parser.add_argument("--name", action="append", help="only this subscription (repeatable)")
    parser.set_defaults(handler=command)
