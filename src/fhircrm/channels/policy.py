"""May we contact this patient now, on this channel, for this purpose? Consent, opt-outs, caps, quiet hours."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import fhircrm.channels.consent as consent
from fhircrm.config import Settings
from fhircrm.fhir.store import FhirStore

LIVE_CHANNELS = frozenset({"webchat"})


@dataclass(frozen=True, slots=True)
class Decision:
    blocked: str | None = None  # a message-status-reason code
    not_before: datetime | None = None  # aware UTC: send no earlier (quiet hours)


def next_allowed(moment: datetime, tz: ZoneInfo, start_hour: int, end_hour: int) -> datetime | None:
    """None when ``moment`` is outside quiet hours, else the first allowed moment after it (aware UTC)."""
    local = moment.astimezone(tz)
    quiet = (
        local.hour >= start_hour or local.hour < end_hour
        if start_hour > end_hour
        else (start_hour <= local.hour < end_hour)
    )
    if not quiet:
        return None
    day = local.date() if local.hour < end_hour else local.date() + timedelta(days=1)
    opening = datetime(day.year, day.month, day.day, end_hour, tzinfo=tz)
    return opening.astimezone(UTC)


async def recent_count(store: FhirStore, patient_ref: str, since: datetime) -> int:
    result = await store.search(
        "Communication",
        [
            ("recipient", patient_ref),
            ("status", "preparation,in-progress,completed"),
            ("_lastUpdated", f"ge{since.strftime('%Y-%m-%dT%H:%M:%SZ')}"),
            ("_summary", "count"),
        ],
    )
    return result.total or 0


async def decide(
    store: FhirStore,
    settings: Settings,
    *,
    patient_ref: str,
    channel: str,
    purpose: str,
    tz: ZoneInfo,
    at: datetime,
    check_cap: bool = True,
) -> Decision:
    refusal = consent.decide(await consent.active_consents(store, patient_ref), channel, purpose)
    if refusal:
        return Decision(blocked=refusal)
    cap = settings.channels_daily_cap if check_cap else 0
    if cap > 0 and await recent_count(store, patient_ref, datetime.now(UTC) - timedelta(hours=24)) >= cap:
        return Decision(blocked="frequency-cap")
    if channel in LIVE_CHANNELS:
        return Decision()  # the patient is in the conversation right now: quiet hours do not apply
    later = next_allowed(at, tz, settings.channels_quiet_start_hour, settings.channels_quiet_end_hour)
    return Decision(not_before=later)
