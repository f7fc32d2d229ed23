"""Server-side app sessions: the cookie carries a random token, the row (keyed by its hash) carries the rest.

A session first holds pending launches (``state`` -> PKCE verifier, issuer, endpoints), then the tokens and the
launch context (patient, encounter, fhirUser). Nothing secret reaches the browser.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from fhircrm.smartapp.tables import smartapp_session

COOKIE = "fhircrm_app"
MAX_PENDING = 5  # launches started in one browser and not finished yet


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class AppSession:
    token: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def csrf(self) -> str:
        return str(self.data.setdefault("csrf", secrets.token_urlsafe(24)))

    @property
    def signed_in(self) -> bool:
        return bool(self.data.get("access_token"))

    @property
    def patient(self) -> str | None:
        return self.data.get("patient")

    @property
    def encounter(self) -> str | None:
        return self.data.get("encounter")

    @property
    def fhir_user(self) -> str | None:
        return self.data.get("fhir_user")

    @property
    def user_name(self) -> str | None:
        """The signed-in person's name (looked up at sign-in), for the top bar."""
        return self.data.get("user_name")

    @property
    def scope(self) -> str:
        return str(self.data.get("scope", ""))

    def add_pending(self, state: str, launch: dict[str, Any]) -> None:
        pending = dict(self.data.get("pending", {}))
        pending[state] = launch
        self.data["pending"] = dict(list(pending.items())[-MAX_PENDING:])

    def take_pending(self, state: str) -> dict[str, Any] | None:
        """The launch started with ``state`` in this browser, removed so a state works once."""
        pending = dict(self.data.get("pending", {}))
        launch = pending.pop(state, None) if state else None
        self.data["pending"] = pending
        return launch


class SessionStore:
    def __init__(self, engine: AsyncEngine, hours: float) -> None:
        self.engine = engine
        self.lifetime = timedelta(hours=hours)

    async def load(self, token: str | None) -> AppSession | None:
        if not token:
            return None
        query = sa.select(smartapp_session.c.data).where(
            smartapp_session.c.id == _key(token), smartapp_session.c.expires_at > _now()
        )
        async with self.engine.connect() as conn:
            data = (await conn.execute(query)).scalar_one_or_none()
        return AppSession(token, dict(data)) if data is not None else None

    async def new(self) -> AppSession:
        session = AppSession(secrets.token_urlsafe(32))
        session.csrf  # noqa: B018  (created with the session)
        now = _now()
        async with self.engine.begin() as conn:
            await conn.execute(sa.delete(smartapp_session).where(smartapp_session.c.expires_at < now))
            await conn.execute(
                sa.insert(smartapp_session).values(
                    id=_key(session.token), created_at=now, expires_at=now + self.lifetime, data=session.data
                )
            )
        return session

    async def save(self, session: AppSession) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.update(smartapp_session)
                .where(smartapp_session.c.id == _key(session.token))
                .values(data=session.data)
            )

    async def rotate(self, session: AppSession) -> AppSession:
        """A new cookie value for the same data (after sign-in, against session fixation)."""
        fresh = AppSession(secrets.token_urlsafe(32), session.data)
        now = _now()
        async with self.engine.begin() as conn:
            await conn.execute(sa.delete(smartapp_session).where(smartapp_session.c.id == _key(session.token)))
            await conn.execute(
                sa.insert(smartapp_session).values(
                    id=_key(fresh.token), created_at=now, expires_at=now + self.lifetime, data=fresh.data
                )
            )
        return fresh

    async def delete(self, session: AppSession) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(sa.delete(smartapp_session).where(smartapp_session.c.id == _key(session.token)))
