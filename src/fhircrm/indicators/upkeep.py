"""Keeps ``indicator_fact`` and ``indicator_daily`` equal to a recount, in the writing transaction.

A write-time listener of the store (``fhircrm.stores``), not a domain-event consumer: it runs for every write
through ``open_store``, bulk and history loads included, whether or not they emit events. For each Appointment
written (and each one a written RiskAssessment's ``basis`` names, since the latest one gives the band) it
recounts that Appointment's cells from the index rows just written (``facts``, from the rows ``Dated.held`` reads
once), takes back the cells it counted before and adds the new ones to the day's sums; a write that changes no
element a cell is read from (``facts.same_cells``) recounts nothing. On PostgreSQL each Appointment id is locked
first with a transaction-scoped advisory lock (a row lock is not enough: the first transaction replaces the fact
row, and the second, woken on the deleted row, would insert it again), so two transactions touching one Appointment
apply their differences one after the other. ``rebuild`` recounts everything (``fhircrm indicators rebuild``): after the
migration, or to mend counts written by code that bypassed the store.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date
from hashlib import blake2b
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.fhir.access import ServiceScope
from fhircrm.fhir.changes import Change
from fhircrm.fhir.references import relative
from fhircrm.fhir.store import FhirStore
from fhircrm.indicators.facts import Fact, all_appointments, facts, same_cells
from fhircrm.indicators.tables import indicator_daily, indicator_fact

UPKEEP = ServiceScope("indicators")
CHUNK = 500

#: {(day, class, dimension, key): change in Appointments}
Delta = dict[tuple[date, str, str, str], int]


def touched(changes: Iterable[Change]) -> set[str]:
    """Ids of the Appointments whose cells a write may have changed (none for a change of elements no cell is
    read from, such as a comment)."""
    ids: set[str] = set()
    for change in changes:
        if change.resource_type not in ("Appointment", "RiskAssessment"):
            continue
        if same_cells(change.resource_type, change.previous, change.current):
            continue
        if change.resource_type == "Appointment":
            ids.add(change.fhir_id)
        elif change.resource_type == "RiskAssessment":
            for content in (change.previous, change.current):
                for basis in (content or {}).get("basis") or []:
                    target = relative(str(basis.get("reference") or ""))
                    if target and target[0] == "Appointment":
                        ids.add(target[1])
    return ids


async def keep_counts(conn: AsyncConnection, changes: list[Change]) -> None:
    """The store's write-time listener."""
    ids = sorted(touched(changes))
    for i in range(0, len(ids), CHUNK):
        await recount(conn, ids[i : i + CHUNK])


async def recount(conn: AsyncConnection, ids: list[str]) -> None:
    """Recount the cells of the Appointments ``ids`` and apply the difference to the day sums."""
    if conn.dialect.name == "postgresql":
        await conn.execute(_LOCK, {"keys": sorted(_lock_key(ident) for ident in ids)})  # one order: no deadlock
    rows = await conn.execute(sa.select(indicator_fact).where(indicator_fact.c.fhir_id.in_(ids)))
    before = {row.fhir_id: (row.start, row.cells) for row in rows}
    store = FhirStore(conn, policy=UPKEEP)
    pks = [pk for (pk,) in await conn.execute(store.select("Appointment", [("_id", ",".join(ids))]).pks)]
    now = await facts(await all_appointments(store).held(pks)) if pks else {}
    delta: Delta = defaultdict(int)
    for start, cells in before.values():
        for cell in cells:
            delta[(start.date(), *cell)] -= 1
    for fact in now.values():
        for cell in fact.cells():
            delta[(fact.start.date(), *cell)] += 1
    if before:
        await conn.execute(sa.delete(indicator_fact).where(indicator_fact.c.fhir_id.in_(list(before))))
    await _write(conn, now, delta)


_LOCK = sa.text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS BIGINT[])) AS k")


def _lock_key(fhir_id: str) -> int:
    digest = blake2b(fhir_id.encode("utf-8", "surrogatepass"), digest_size=8, person=b"fhircrm-appt").digest()
    return int.from_bytes(digest, "big", signed=True)


async def _write(conn: AsyncConnection, now: dict[str, Fact], delta: Delta) -> None:
    facts_rows = [_fact_row(ident, fact) for ident, fact in now.items()]
    rows = [
        {"day": day, "class": c, "dimension": d, "key": k, "n": n} for (day, c, d, k), n in sorted(delta.items()) if n
    ]
    if conn.dialect.name == "postgresql":  # one statement each, one bind per column, however many rows
        if facts_rows:
            await conn.execute(_INSERT_FACTS, _columns(facts_rows, cells=json.dumps))
        if rows:
            await conn.execute(_UPSERT_DAILY, _columns(rows))
    else:
        if facts_rows:
            await conn.execute(sa.insert(indicator_fact), facts_rows)
        if rows:
            upsert = sqlite.insert(indicator_daily)
            upsert = upsert.on_conflict_do_update(
                index_elements=["day", "class", "dimension", "key"], set_={"n": indicator_daily.c.n + upsert.excluded.n}
            )
            for i in range(0, len(rows), CHUNK):
                await conn.execute(upsert, rows[i : i + CHUNK])
    days = sorted({row["day"] for row in rows if row["n"] < 0})  # what was taken back may now count nothing
    if days:
        await conn.execute(sa.delete(indicator_daily).where(indicator_daily.c.day.in_(days), indicator_daily.c.n == 0))


_INSERT_FACTS = sa.text(
    "INSERT INTO indicator_fact (fhir_id, start, cells) SELECT * FROM unnest(CAST(:fhir_id AS TEXT[]),"
    " CAST(:start AS TIMESTAMP[]), CAST(:cells AS JSONB[]))"
)
_UPSERT_DAILY = sa.text(
    "INSERT INTO indicator_daily (day, class, dimension, key, n) SELECT * FROM unnest(CAST(:day AS DATE[]),"
    " CAST(:class AS TEXT[]), CAST(:dimension AS TEXT[]), CAST(:key AS TEXT[]), CAST(:n AS INTEGER[]))"
    " ON CONFLICT (day, class, dimension, key) DO UPDATE SET n = indicator_daily.n + excluded.n"
)


def _columns(rows: list[dict], **encode: Callable[[Any], Any]) -> dict[str, list]:
    """{column: [value of each row]}: the binds of an ``unnest`` insert."""
    return {name: [encode.get(name, _same)(row[name]) for row in rows] for name in rows[0]}


def _same(value: Any) -> Any:
    return value


def _fact_row(ident: str, fact: Fact) -> dict:
    return {"fhir_id": ident, "start": fact.start, "cells": sorted(list(cell) for cell in fact.cells())}


async def rebuild(conn: AsyncConnection) -> int:
    """Recount every Appointment into empty tables; returns how many Appointments count."""
    await conn.execute(sa.delete(indicator_daily))
    await conn.execute(sa.delete(indicator_fact))
    everything = await facts(all_appointments(FhirStore(conn, policy=UPKEEP)))
    delta: Delta = defaultdict(int)
    for fact in everything.values():
        for cell in fact.cells():
            delta[(fact.start.date(), *cell)] += 1
    items = list(everything.items())
    for i in range(0, len(items), CHUNK * 10):
        await conn.execute(sa.insert(indicator_fact), [_fact_row(k, f) for k, f in items[i : i + CHUNK * 10]])
    await _write(conn, {}, delta)
    return len(everything)
