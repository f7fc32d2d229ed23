"""One-time identifiers in the database: accepted once, on PostgreSQL and SQLite alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from fhircrm.smart.jti import JtiStore


def later() -> datetime:
    """Five minutes from now, when the test runs (not when the module was collected: a long suite outlives it)."""
    return datetime.now(UTC) + timedelta(minutes=5)


async def test_a_jti_is_accepted_once(clean_engine: AsyncEngine):
    store = JtiStore(clean_engine)
    assert await store.use("client:a", "jti-1", expires_at=later())
    assert not await store.use("client:a", "jti-1", expires_at=later())


async def test_the_same_jti_from_two_issuers_is_two_identifiers(clean_engine: AsyncEngine):
    store = JtiStore(clean_engine)
    assert await store.use("client:a", "jti-1", expires_at=later())
    assert await store.use("client:b", "jti-1", expires_at=later())


async def test_a_jti_used_through_another_store_is_refused(clean_engine: AsyncEngine):
    assert await JtiStore(clean_engine).use("client:a", "jti-1", expires_at=later())
    assert not await JtiStore(clean_engine).use("client:a", "jti-1", expires_at=later())


async def test_long_expired_identifiers_are_purged(clean_engine: AsyncEngine):
    store = JtiStore(clean_engine)
    await store.use("client:a", "old", expires_at=datetime.now(UTC) - timedelta(hours=1))
    await store.use("client:a", "new", expires_at=later())
    assert await store.count() == 1


async def test_empty_or_oversized_jti_is_refused(clean_engine: AsyncEngine):
    store = JtiStore(clean_engine)
    assert not await store.use("client:a", "", expires_at=later())
    assert not await store.use("client:a", "x" * 256, expires_at=later())
    assert await store.count() == 0
