"""Seed this installation's store with loader processes, while this process generates and encodes the batches.

Parsing, validating, indexing and writing a transaction costs some thirty times more than generating it, and it
is CPU-bound Python: a single process uses one core. So `jobs` loader processes (spawned, each with its own app,
engine and connections) take encoded batches from a bounded queue and POST them, as ``fhircrm seed`` always did,
through the FHIR API of an in-process app. This process stays the only generator (generation is sequential and
seeded, so the data do not depend on `jobs`), keeps the order that matters (each network batch is committed
before the next batch is handed out) and counts the commits for the progress bar and the report. The queue is
bounded, so memory stays flat however many patients are seeded.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing as mp
import queue
import time
from collections.abc import Awaitable, Callable
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue

from sqlalchemy.ext.asyncio import AsyncEngine

from fhircrm.config import Settings
from fhircrm.db import analyze, create_engine
from fhircrm.demo.api import SeedError, SeedReport, in_process_api, post_transaction
from fhircrm.demo.generator import ClinicSpec
from fhircrm.demo.wire import EncodedBatch, encoded_batches
from fhircrm.migrate import upgrade

POLL_SECONDS = 0.005  # the dispatcher's idle wait: far below a transaction's few hundred milliseconds
PARENT_CHECK_SECONDS = 1.0

# Messages from a loader: ("done", patients, resources) after each commit, ("failed", text) before it exits.
Message = tuple[str, int, int] | tuple[str, str]


async def seed_with_loaders(
    settings: Settings,
    spec: ClinicSpec,
    *,
    jobs: int,
    on_batch: Callable[[int, int], None] | None = None,
) -> SeedReport:
    """Seed `spec` with `jobs` loader processes; migrate first (once) and refresh planner statistics last."""
    started = time.monotonic()
    await _on_engine(settings, upgrade)  # once, here: the loaders' apps do not migrate
    pool = _LoaderPool(settings, max(1, jobs), on_batch)
    try:
        for batch in encoded_batches(spec):
            await pool.send(batch)
            if batch.stage == "network":
                await pool.settle()  # everything after it may reference it
        await pool.finish()
    finally:
        pool.stop()
    await _on_engine(settings, analyze)  # a bulk load: give the planner statistics before anyone queries
    return SeedReport(batches=pool.batches, resources=pool.resources, seconds=time.monotonic() - started)


async def _on_engine(settings: Settings, work: Callable[[AsyncEngine], Awaitable[None]]) -> None:
    """Run `work` on an engine of its own, closed again before the loaders connect (no idle SQLite handle)."""
    engine = create_engine(settings.database_url)
    try:
        await work(engine)
    finally:
        await engine.dispose()


class _LoaderPool:
    """The loader processes, their work queue (bounded) and the tally of what they committed."""

    def __init__(self, settings: Settings, jobs: int, on_batch: Callable[[int, int], None] | None) -> None:
        context = mp.get_context("spawn")  # never fork a process that has threads and an event loop
        self.work: Queue[EncodedBatch | None] = context.Queue(maxsize=2 * jobs)
        self.done: Queue[Message] = context.Queue()
        self.on_batch = on_batch
        self.sent = self.batches = self.resources = 0
        self.loaders: list[BaseProcess] = [
            context.Process(
                target=load_from_queue, args=(settings, self.work, self.done), name=f"seed-loader-{n}", daemon=True
            )
            for n in range(jobs)
        ]
        for loader in self.loaders:
            loader.start()

    async def send(self, batch: EncodedBatch | None) -> None:
        """Hand `batch` (None: stop) to whichever loader is free, counting commits while the queue is full."""
        while True:
            self._collect()
            try:
                self.work.put_nowait(batch)
            except queue.Full:
                await asyncio.sleep(POLL_SECONDS)
                continue
            if batch is not None:
                self.sent += 1
            return

    async def settle(self) -> None:
        """Wait until every batch handed out so far is committed."""
        while self.batches < self.sent:
            if not self._collect():
                await asyncio.sleep(POLL_SECONDS)

    async def finish(self) -> None:
        """Tell each loader to stop once the queue is drained, wait for the last commits and the exits."""
        for _ in self.loaders:
            await self.send(None)
        await self.settle()
        while any(loader.is_alive() for loader in self.loaders):
            self._collect()
            await asyncio.sleep(POLL_SECONDS)
        self._collect()

    def stop(self) -> None:
        """End any loader still running (after a failure or an interrupt) and release the queues."""
        for loader in self.loaders:
            if loader.is_alive():
                loader.terminate()
            loader.join()
        self.work.cancel_join_thread()  # batches nobody will read must not hold up this process's exit
        self.work.close()
        self.done.close()

    def _collect(self) -> int:
        """Count the commits reported so far; raise SeedError if a loader failed or died."""
        collected = 0
        while True:
            try:
                message = self.done.get_nowait()
            except queue.Empty:
                break
            if message[0] == "failed":
                raise SeedError(f"a loader process failed: {message[1]}")
            _, patients, resources = message
            assert isinstance(patients, int) and isinstance(resources, int)
            self.batches += 1
            self.resources += resources
            collected += 1
            if self.on_batch:
                self.on_batch(patients, resources)
        dead = next((p for p in self.loaders if p.exitcode not in (None, 0)), None)
        if dead is not None:
            self._raise_failure(dead)
        return collected

    def _raise_failure(self, dead: BaseProcess) -> None:
        """A loader died: raise with its own account of why, if it managed to send one."""
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            try:
                message = self.done.get(timeout=0.1)
            except queue.Empty:
                continue
            if message[0] == "failed":
                raise SeedError(f"a loader process failed: {message[1]}")
        raise SeedError(f"loader process {dead.name} exited with code {dead.exitcode}")


def load_from_queue(settings: Settings, work: Queue[EncodedBatch | None], done: Queue[Message]) -> None:
    """A loader process: POST each batch of `work` through an in-process app until None arrives."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        asyncio.run(_load(settings, work, done))
    except BaseException as exc:
        done.put(("failed", f"{type(exc).__name__}: {exc}"[:2000]))
        raise SystemExit(1) from None


async def _load(settings: Settings, work: Queue[EncodedBatch | None], done: Queue[Message]) -> None:
    async with in_process_api(settings, migrate=False, analyze_after=False) as client:
        # The app's objects live as long as the process: keep the collector from walking them again and again.
        gc.freeze()
        gc.set_threshold(50_000, 20, 100)
        while (batch := await asyncio.to_thread(_next_batch, work)) is not None:
            await post_transaction(client, batch.body)
            done.put(("done", batch.patients, batch.resources))


def _next_batch(work: Queue[EncodedBatch | None]) -> EncodedBatch | None:
    """The next batch; None (stop) also when the process that started this one is gone."""
    parent = mp.parent_process()
    while True:
        try:
            return work.get(timeout=PARENT_CHECK_SECONDS)
        except queue.Empty:
            if parent is not None and not parent.is_alive():
                return None
