"""Times as the clinic reads them: in the clinic's zone (``FHIRCRM_CHANNELS_CLINIC_TIMEZONE``) with the zone
written next to them, so "10:00 EST" on a screen is the 10:00 of the patient's SMS, not 15:00 UTC."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fhircrm.config import Settings

DEFAULT_FORMAT = "%a %d %b %H:%M"


def clinic_zone(settings: Settings) -> ZoneInfo:
    try:
        return ZoneInfo(settings.channels_clinic_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local(moment: datetime | None, zone: ZoneInfo | None = None, fmt: str = DEFAULT_FORMAT) -> str:
    """``moment`` in ``zone`` as ``fmt`` followed by the zone's abbreviation (EST, EDT, ...); "" for None."""
    if moment is None:
        return ""
    shown = moment.astimezone(zone) if zone is not None else moment
    return f"{shown.strftime(fmt)} {shown.strftime('%Z') or 'UTC'}"
