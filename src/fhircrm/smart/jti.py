"""Replay protection: a one-time identifier is accepted once, by whichever process sees it first.

The insert is its own committed transaction (``ON CONFLICT DO NOTHING`` on PostgreSQL and SQLite): an identifier
counts as used even if the request fails later, and two replicas racing on one jti cannot both win.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from fhircrm.smart.tables import smart_jti

MAX_JTI_CHARS = 255


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


class JtiStore:
    def __init__(self, engine: AsyncEngine):
        self._engine = engine

    async def use(self, issuer: str, jti: str, *, expires_at: datetime) -> bool:
        """Record ``jti`` of ``issuer`` as used until ``expires_at``; False if it was used before."""
        if not jti or len(jti) > MAX_JTI_CHARS or len(issuer) > MAX_JTI_CHARS:
            return False
        now = datetime.now(UTC).replace(tzinfo=None)
        row = {"issuer": issuer, "jti": jti, "expires_at": _naive_utc(expires_at)}
        async with self._engine.begin() as conn:
            # Expired rows cannot be replayed anyway (their tokens fail exp): drop them as we go.
            await conn.execute(smart_jti.delete().where(smart_jti.c.expires_at < now - timedelta(minutes=10)))
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            statement = dialect.insert(smart_jti).values(row).on_conflict_do_nothing().returning(smart_jti.c.jti)
            return (await conn.execute(statement)).first() is not None

    async def count(self) -> int:
        async with self._engine.connect() as conn:
            return (await conn.execute(sa.select(sa.func.count()).select_from(smart_jti))).scalar_one()
