"""The application's clock: the wall clock, shifted by ``timers_clock_offset_seconds`` (simulations and tests move
time forward this way instead of sleeping; production leaves it at 0). Neutral ground, so every area can tell the
time without importing the timers package."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fhircrm.config import Settings, get_settings


def current_time(settings: Settings | None = None) -> datetime:
    settings = settings or get_settings()
    return datetime.now(UTC) + timedelta(seconds=settings.timers_clock_offset_seconds)


def fhir_datetime(moment: datetime) -> str:
    """A FHIR dateTime in UTC, to the second."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_fhir_datetime(value: str) -> datetime:
    """Parse a FHIR dateTime/instant; a date without a zone is taken as UTC."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
