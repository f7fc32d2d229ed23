"""Load the demo clinic through the FHIR API itself (no back door into the tables).

Each batch of `generate_clinic` is POSTed to ``/fhir`` as a transaction of PUTs to client ids, so every write
goes through the same parsing, validation, indexing and write-time listeners as any client's, and loading the
same spec twice updates in place instead of duplicating data. The target is either this process's own app
(`in_process_api`: the ASGI app with its lifespan run, talked to through httpx without a socket) or any FHIR
server (`remote_api`).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

import httpx

from fhircrm.config import Settings
from fhircrm.demo.api import SeedReport, in_process_api, post_transaction, remote_api
from fhircrm.demo.codes import DATA_ORIGIN_SYSTEM
from fhircrm.demo.generator import ClinicSpec
from fhircrm.demo.loader_pool import seed_with_loaders
from fhircrm.demo.wire import EncodedBatch, encoded_batches

DEMO_TAG = f"{DATA_ORIGIN_SYSTEM}|demo"
REMOTE_JOBS = 4  # transactions in flight against another server: its cores do the work


class Progress:
    """A small progress bar on stderr (only when it is a terminal, so logs and CI output stay clean)."""

    def __init__(self, total: int, label: str, stream: TextIO | None = None, *, enabled: bool | None = None) -> None:
        self.total = max(total, 1)
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.done = 0
        self.resources = 0
        self.started = time.monotonic()
        self._last_draw = 0.0

    def advance(self, patients: int, resources: int) -> None:
        self.done = min(self.total, self.done + patients)
        self.resources += resources
        now = time.monotonic()
        if self.enabled and (now - self._last_draw > 0.2 or self.done >= self.total):
            self._last_draw = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        share = self.done / self.total
        elapsed = now - self.started
        eta = elapsed / share - elapsed if share > 0 else 0.0
        bar = "#" * int(share * 30)
        rate = self.resources / elapsed if elapsed > 0 else 0.0
        self.stream.write(
            f"\r{self.label} [{bar:<30}] {self.done}/{self.total} patients, "
            f"{self.resources} resources ({rate:,.0f}/s), eta {eta:,.0f}s "
        )
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


async def seed_clinic(
    client: httpx.AsyncClient,
    spec: ClinicSpec,
    *,
    streams: int = 1,
    on_batch: Callable[[int, int], None] | None = None,
) -> SeedReport:
    """Write the clinic of `spec` through `client` (base URL = the FHIR base), `streams` transactions at a time.

    The network batches come first and are written one by one before any patient batch (patients reference
    them); the batches after them are independent of each other, so they may run concurrently.
    `on_batch(patients, resources)` is called after each committed batch (progress bars).
    """
    started = time.monotonic()
    count = resources = 0
    batches = encoded_batches(spec)
    first_parallel = None
    for batch in batches:  # the network first, in order: everything after it references it
        if batch.stage != "network":
            first_parallel = batch
            break
        await post_transaction(client, batch.body)
        count, resources = count + 1, resources + batch.resources
        if on_batch:
            on_batch(0, batch.resources)

    async def worker(queue: asyncio.Queue[EncodedBatch | None]) -> None:
        nonlocal count, resources
        while (batch := await queue.get()) is not None:
            await post_transaction(client, batch.body)
            count, resources = count + 1, resources + batch.resources
            if on_batch:
                on_batch(batch.patients, batch.resources)

    queue: asyncio.Queue[EncodedBatch | None] = asyncio.Queue(maxsize=streams * 2)
    tasks = [asyncio.create_task(worker(queue)) for _ in range(max(1, streams))]
    try:
        for batch in itertools.chain([first_parallel] if first_parallel else [], batches):
            await _put(queue, batch, tasks)
        for _ in tasks:
            await _put(queue, None, tasks)
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
    return SeedReport(batches=count, resources=resources, seconds=time.monotonic() - started)


async def _put(queue: asyncio.Queue, item: object, tasks: list[asyncio.Task]) -> None:
    """Queue `item`, but surface a worker's failure instead of waiting forever on a queue nobody drains."""
    while True:
        failed = next((t for t in tasks if t.done() and t.exception()), None)
        if failed is not None:
            raise failed.exception()  # type: ignore[misc]
        try:
            await asyncio.wait_for(queue.put(item), timeout=0.5)
            return
        except TimeoutError:
            continue


async def demo_patient_count(client: httpx.AsyncClient) -> int:
    """How many demo-tagged Patients the server holds (a ``_summary=count`` search)."""
    response = await client.get("Patient", params={"_tag": DEMO_TAG, "_summary": "count"})
    response.raise_for_status()
    return int(response.json().get("total", 0))


@contextmanager
def quiet_http_log() -> Iterator[None]:
    """No INFO line per POST from httpx while seeding: thousands of them would bury the progress bar."""
    logger = logging.getLogger("httpx")
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


def default_jobs(settings: Settings, url: str | None) -> int:
    """Loaders at once: several transactions for another server; on this store, one process per core on
    PostgreSQL and a single writer on SQLite (its one write lock would only make concurrent writers wait)."""
    if url:
        return REMOTE_JOBS
    if settings.database_url.startswith("sqlite"):
        return 1
    return max(1, min(4, os.cpu_count() or 1))


async def run_seed(
    settings: Settings,
    spec: ClinicSpec,
    *,
    url: str | None = None,
    streams: int = 1,
    jobs: int | None = None,
    progress: Progress | None = None,
) -> SeedReport:
    """``fhircrm seed``: into this installation's store or, with `url`, into any FHIR server.

    Into this store, `jobs` loader processes (each its own app and connections) write the batches this process
    generates and encodes, so generation overlaps loading and, on PostgreSQL, several transactions commit at
    once; ``jobs=0`` loads in this process instead (`streams` transactions at a time). With `url`, `jobs` (or
    `streams`, whichever is larger) transactions are in flight at once.
    """
    jobs = default_jobs(settings, url) if jobs is None else jobs
    progress = progress or Progress(spec.patients, "seeding")
    try:
        with quiet_http_log():
            if url:
                streams = max(streams, jobs, 1)
                async with remote_api(url, connections=streams) as client:
                    return await seed_clinic(client, spec, streams=streams, on_batch=progress.advance)
            if jobs > 0:
                return await seed_with_loaders(settings, spec, jobs=jobs, on_batch=progress.advance)
            async with in_process_api(settings) as client:
                return await seed_clinic(client, spec, streams=streams, on_batch=progress.advance)
    finally:
        progress.close()
