"""``fhircrm subscriptions register|list|status|delete``: our Subscriptions on the EHR, from the command line.

Plain lines for a person by default (``--json`` for scripts). ``register`` gives each event one kind unless told
otherwise, so each EHR change arrives once: topic-based where the EHR's CapabilityStatement advertises it and
its handshake reaches us, else criteria rest-hooks, else polling (``registration``). It exits 1 only when a
template was refused, and names each refusal. ``status`` adds what fhircrm saw: when each was last heard
from, and the watch's flags.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
import time

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from fhircrm.config import Settings, get_settings
from fhircrm.db import create_engine
from fhircrm.ehr.client import build_client
from fhircrm.ehr.errors import EhrError
from fhircrm.migrate import upgrade
from fhircrm.runtime import create_http_client
from fhircrm.subscriptions import registration
from fhircrm.subscriptions.tables import ehr_subscription_watch

KIND_OPTIONS = {"auto": "auto", "topic": "topic-based", "criteria": "criteria", "both": None}


async def run(
    action: str, settings: Settings, *, kind: str = "auto", names: list[str] | None = None, wait: float = 0
) -> object:
    http = create_http_client()
    engine = create_engine(settings.database_url)
    try:
        client = build_client(settings, http)
        if action == "register":
            await _wait_for_ehr(client, wait)
            await upgrade(engine)  # the watch's tables, when this runs before the API's first start
            outcomes = await registration.register(
                client, settings, kind=KIND_OPTIONS[kind], names=names, engine=engine
            )
            return KIND_OPTIONS[kind], outcomes
        if action == "list":
            return await registration.list_ours(client, settings)
        if action == "status":
            return await registration.status(client, settings, engine=await _migrated(engine))
        return await registration.delete(client, settings, names=names, engine=await _migrated(engine))
    finally:
        await http.aclose()
        await engine.dispose()


async def _wait_for_ehr(client: object, seconds: float) -> None:
    """The EHR answers its CapabilityStatement, or ``seconds`` have passed (then its error is the answer)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            await client.get("metadata")  # type: ignore[attr-defined]
            return
        except EhrError as exc:
            if time.monotonic() >= deadline:
                raise
            print(f"waiting for the EHR ({exc})", file=sys.stderr)
            await asyncio.sleep(min(5.0, max(0.5, deadline - time.monotonic())))


async def _migrated(engine: AsyncEngine) -> AsyncEngine | None:
    """The database when it has our tables (status and delete work against the EHR alone otherwise)."""
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.select(ehr_subscription_watch.c.name).limit(1))
        return engine
    except sa.exc.SQLAlchemyError:
        return None


def _plain(value: object) -> object:
    return dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value  # type: ignore[arg-type]


def _print_register(chosen: str | None, outcomes: list[registration.Outcome], as_json: bool) -> int:
    failed = [o for o in outcomes if o.action == "failed"]
    if as_json:
        print(json.dumps({"kind": chosen or "both", "results": [_plain(o) for o in outcomes]}, indent=2))
    else:
        if chosen == "auto":
            print("registering one kind per event: what the EHR advertises and proves (topic, criteria, polling)")
        else:
            print(f"registering {chosen or 'criteria and topic-based'} Subscriptions")
        for o in outcomes:
            where = f"Subscription/{o.id} ({o.status or 'no status'})" if o.id else o.error
            if o.action == "polling":
                where = "polled from the EHR by the watch"
            note = f"  [{o.note}]" if o.note else ""
            print(f"{o.action:<8} {o.name}  {where}{note}".rstrip())
        print(f"{len(outcomes) - len(failed)} registered, {len(failed)} failed")
    if failed:
        print(f"the EHR refused: {', '.join(o.name for o in failed)} (see above; fix and run again)", file=sys.stderr)
        return 1
    return 0


def command(args: argparse.Namespace) -> int:
    try:
        result = asyncio.run(
            run(args.action, get_settings(), kind=args.kind, names=args.name or None, wait=args.wait_for_ehr)
        )
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
            where = f"Subscription/{row['id']}" if row["id"] else "-"
            print(f"{row['name']}  {where}  {row['status']}  {extra}".rstrip())
        if not rows:
            print("no fhircrm Subscriptions on the EHR (run: fhircrm subscriptions register)")
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("subscriptions", help="manage fhircrm's Subscriptions on the EHR")
    parser.add_argument("action", choices=("register", "list", "status", "delete"))
    parser.add_argument(
        "--kind",
        choices=tuple(KIND_OPTIONS),
        default="auto",
        help="register: auto (default) gives each event one kind: topic where the EHR advertises it and its "
        "handshake arrives, else criteria, else polling",
    )
    parser.add_argument(
        "--wait-for-ehr",
        type=float,
        default=0,
        metavar="SECONDS",
        help="register: retry until the EHR answers its CapabilityStatement, for up to SECONDS (compose start-up)",
    )
    parser.add_argument(
        "--name", action="append", help="only this subscription, or event (appointment-booked), repeatable"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of lines")
    parser.set_defaults(handler=command)
