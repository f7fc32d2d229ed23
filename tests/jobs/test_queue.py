"""The job outbox: committed jobs run exactly once, failures retry then dead-letter, rollbacks discard jobs."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from fhircrm.fhir.store import FhirStore
from fhircrm.jobs import Job, JobRegistry, enqueue
from fhircrm.jobs.queue import counts, retry_dead
from fhircrm.jobs.registry import RetryLater
from fhircrm.jobs.runner import JobRunner
from fhircrm.jobs.tables import job as job_table


async def record_basic(conn: AsyncConnection, job: Job) -> None:
    """A handler with a visible database effect: one Basic resource per job, tagged with the job's number."""
    basic = {
        "resourceType": "Basic",
        "code": {"text": "job"},
        "identifier": [{"system": "urn:job", "value": str(job.payload["n"])}],
    }
    await FhirStore(conn).create(basic)


async def basics(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        result = await FhirStore(conn, max_count=100_000).search("Basic", [("_count", "100000")])
    return sorted(r["identifier"][0]["value"] for r in result.matches)


def registry_with(handler, *, batch_size: int = 1, max_attempts: int = 3) -> JobRegistry:
    registry = JobRegistry()
    registry.register("test.record", handler, batch_size=batch_size, max_attempts=max_attempts)
    return registry


async def test_a_committed_job_runs_once_and_its_effect_commits_with_it(clean_engine: AsyncEngine) -> None:
    async with clean_engine.begin() as conn:
        await enqueue(conn, "test.record", {"n": 1})
    runner = JobRunner(clean_engine, registry_with(record_basic))
    assert await runner.drain() == 1
    assert await runner.drain() == 0
    assert await basics(clean_engine) == ["1"]
    async with clean_engine.connect() as conn:
        assert await counts(conn) == {("test.record", "done"): 1}


async def test_a_rolled_back_transaction_leaves_no_job(clean_engine: AsyncEngine) -> None:
    with pytest.raises(RuntimeError):
        async with clean_engine.begin() as conn:
            await enqueue(conn, "test.record", {"n": 1})
            raise RuntimeError("the request failed")
    assert await JobRunner(clean_engine, registry_with(record_basic)).drain() == 0


async def test_a_dedupe_key_admits_one_job(clean_engine: AsyncEngine) -> None:
    async with clean_engine.begin() as conn:
        assert await enqueue(conn, "test.record", {"n": 1}, dedupe_key="reminder:appt-1:T-24h")
        assert not await enqueue(conn, "test.record", {"n": 2}, dedupe_key="reminder:appt-1:T-24h")
    await JobRunner(clean_engine, registry_with(record_basic)).drain()
    assert await basics(clean_engine) == ["1"]


async def test_a_failing_job_is_retried_with_backoff_then_dead_lettered(clean_engine: AsyncEngine) -> None:
    async def flaky(conn: AsyncConnection, job: Job) -> None:
        await record_basic(conn, job)  # rolled back with the failed attempt
        raise ConnectionError("provider down")

    async with clean_engine.begin() as conn:
        await enqueue(conn, "test.record", {"n": 7})
    runner = JobRunner(clean_engine, registry_with(flaky, max_attempts=3))
    for _ in range(3):
        assert await runner.run_once() == 1
        async with clean_engine.begin() as conn:  # skip the backoff wait
            await conn.execute(sa.update(job_table).values(run_at=sa.func.current_timestamp()))
        await asyncio.sleep(0.01)
    async with clean_engine.connect() as conn:
        assert await counts(conn) == {("test.record", "dead"): 1}
        row = (await conn.execute(sa.select(job_table.c.attempts, job_table.c.last_error))).one()
    assert row.attempts == 3
    assert row.last_error == "ConnectionError: provider down"
    assert await basics(clean_engine) == []


async def test_a_dead_job_can_be_replayed(clean_engine: AsyncEngine) -> None:
    calls = 0

    async def fails_once(conn: AsyncConnection, job: Job) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ValueError("bad configuration")
        await record_basic(conn, job)

    async with clean_engine.begin() as conn:
        await enqueue(conn, "test.record", {"n": 3})
    runner = JobRunner(clean_engine, registry_with(fails_once, max_attempts=1))
    await runner.drain()
    async with clean_engine.begin() as conn:
        assert await retry_dead(conn, kind="test.record") == 1
    await runner.drain()
    assert await basics(clean_engine) == ["3"]


async def test_retry_later_waits_the_time_the_handler_asks_for(clean_engine: AsyncEngine) -> None:
    async def throttled(_conn: AsyncConnection, _job: Job) -> None:
        raise RetryLater("429 from provider", seconds=120)

    async with clean_engine.begin() as conn:
        await enqueue(conn, "test.record", {"n": 1})
    runner = JobRunner(clean_engine, registry_with(throttled))
    assert await runner.run_once() == 1
    assert await runner.run_once() == 0  # not due again for two minutes
    async with clean_engine.connect() as conn:
        status = (await conn.execute(sa.select(job_table.c.status, job_table.c.attempts))).one()
    assert tuple(status) == ("pending", 1)


async def test_one_failing_job_in_a_batch_does_not_undo_the_others(clean_engine: AsyncEngine) -> None:
    async def odd_fails(conn: AsyncConnection, job: Job) -> None:
        await record_basic(conn, job)
        if job.payload["n"] % 2:
            raise ValueError("odd")

    async with clean_engine.begin() as conn:
        for n in range(6):
            await enqueue(conn, "test.record", {"n": n})
    await JobRunner(clean_engine, registry_with(odd_fails, batch_size=10, max_attempts=1)).drain()
    assert await basics(clean_engine) == ["0", "2", "4"]


async def test_two_runners_on_postgresql_run_each_job_exactly_once(clean_engine: AsyncEngine) -> None:
    if clean_engine.dialect.name != "postgresql":
        pytest.skip("concurrent workers need row locks: PostgreSQL only (the embedded default runs one worker)")
    async with clean_engine.begin() as conn:
        for n in range(300):
            await enqueue(conn, "test.record", {"n": n})
    registry = registry_with(record_basic, batch_size=20)
    first, second = JobRunner(clean_engine, registry), JobRunner(clean_engine, registry)
    done = await asyncio.gather(first.drain(), second.drain())
    assert sum(done) == 300
    assert min(done) > 0  # both took part
    assert await basics(clean_engine) == sorted(str(n) for n in range(300))


async def test_a_notification_wakes_an_idle_worker_before_its_poll_interval(
    clean_engine: AsyncEngine, database_url: str
) -> None:
    if clean_engine.dialect.name != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; SQLite workers poll")
    from fhircrm.jobs.listen import listen

    ran = asyncio.Event()

    async def handler(conn: AsyncConnection, job: Job) -> None:
        await record_basic(conn, job)
        ran.set()

    runner = JobRunner(clean_engine, registry_with(handler), poll_interval=60)  # would sleep a minute
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(runner.run_forever(stop)),
        asyncio.create_task(listen(database_url, lambda _kind: runner.wake(), stop)),
    ]
    try:
        await asyncio.sleep(0.5)  # the runner is idle, the listener connected
        async with clean_engine.begin() as conn:
            await enqueue(conn, "test.record", {"n": 9})
        await asyncio.wait_for(ran.wait(), timeout=10)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert await basics(clean_engine) == ["9"]


async def test_finished_jobs_are_purged_after_retention_but_dead_letters_stay(clean_engine: AsyncEngine) -> None:
    from datetime import timedelta

    from fhircrm.jobs.queue import purge_done

    async def boom(_conn: AsyncConnection, _job: Job) -> None:
        raise ValueError("always")

    async with clean_engine.begin() as conn:
        await enqueue(conn, "test.record", {"n": 1})
        await enqueue(conn, "test.fail", {"n": 2})
    registry = registry_with(record_basic)
    registry.register("test.fail", boom, max_attempts=1)
    await JobRunner(clean_engine, registry).drain()
    async with clean_engine.begin() as conn:
        assert await purge_done(conn, older_than=timedelta(days=1)) == 0  # too recent
        assert await purge_done(conn, older_than=timedelta(seconds=-1)) == 1
        assert await counts(conn) == {("test.fail", "dead"): 1}
