"""``fhircrm subscriptions register|list|status|delete``: our Subscriptions on the EHR, from the command line.

Plain lines for a person by default (``--json`` for scripts). ``register`` registers one kind unless told
otherwise, so each EHR change arrives once: topic-based where the EHR's CapabilityStatement advertises it,
else criteria rest-hooks. It exits 1 only when a template was refused, and names each refusal.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys

from fhircrm.config import Settings, get_settings
from fhircrm.ehr.client import build_client
from fhircrm.ehr.errors import EhrError
from fhircrm.runtime import create_http_client
from fhircrm.subscriptions import registration

KIND_OPTIONS = {"topic": "topic-based", "criteria": "criteria", "both": None}


async def run(action: str, settings: Settings, *, kind: str = "auto", names: list[str] | None = None) -> object:
    http = create_http_client()
    try:
        client = build_client(settings, http)
        if action == "register":
            chosen = await registration.best_kind(client) if kind == "auto" else KIND_OPTIONS[kind]
            return chosen, await registration.register(client, settings, kind=chosen, names=names)
        if action == "list":
            return await registration.list_ours(client, settings)
        if action == "status":
            return await registration.status(client, settings)
        return await registration.delete(client, settings, names=names)
    finally:
        await http.aclose()


def _plain(value: object) -> object:
    return dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value  # type: ignore[arg-type]


def _print_register(chosen: str | None, outcomes: list[registration.Outcome], as_json: bool) -> int:
    failed = [o for o in outcomes if o.action == "failed"]
    if as_json:
        print(json.dumps({"kind": chosen or "both", "results": [_plain(o) for o in outcomes]}, indent=2))
    else:
        print(f"registering {chosen or 'criteria and topic-based'} Subscriptions")
        for o in outcomes:
            where = f"Subscription/{o.id} ({o.status or 'no status'})" if o.id else o.error
            print(f"{o.action:<8} {o.name}  {where}")
        print(f"{len(outcomes) - len(failed)} registered, {len(failed)} failed")
    if failed:
        print(f"the EHR refused: {', '.join(o.name for o in failed)} (see above; fix and run again)", file=sys.stderr)
        return 1
    return 0


def command(args: argparse.Namespace) -> int:
    try:
        result = asyncio.run(run(args.action, get_settings(), kind=args.kind, names=args.name or None))
    except EhrError as exc:
        detail = f": {exc.detail}" if exc.detail else ""
        print(f"fhircrm subscriptions {args.action}: {exc}{detail}", file=sys.stderr)
        return 1
    if args.action == "register":
        chosen, outcomes = result  # type: ignore[misc]
        return _print_register(chosen, outcomes, args.json)
    rows = [_plain(r) for r in result]  # type: ignore[union-attr]
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
    elif args.action == "delete":
        print("\n".join(f"deleted  {name}" for name in rows) or "none of ours to delete")
    else:
        for row in rows:
            extra = "  ".join(f"{k}={v}" for k, v in row.items() if k not in ("name", "id", "status"))
            print(f"{row['name']}  Subscription/{row['id']}  {row['status']}  {extra}".rstrip())
        if not rows:
            print("no fhircrm Subscriptions on the EHR (run: fhircrm subscriptions register)")
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("subscriptions", help="manage fhircrm's Subscriptions on the EHR")
    parser.add_argument("action", choices=("register", "list", "status", "delete"))
    parser.add_argument(
        "--kind",
        choices=("auto", *KIND_OPTIONS),
        default="auto",
        help="register: auto (default) picks topic where the EHR advertises it, else criteria",
    )
    parser.add_argument("--name", action="append", help="only this subscription (repeatable)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of lines")
    parser.set_defaults(handler=command)
