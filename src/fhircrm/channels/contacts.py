"""What a Patient resource says about reaching them: addresses per channel, preferred channel, language, zone."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fhircrm.channels.codes import OUTBOUND_CHANNELS, PREFERRED_CHANNEL_URL, TZ_URL, extension

PLAIN_LANGUAGE_URL = "http://fhircrm.org/StructureDefinition/plain-language"
_PHONE_CHANNELS = ("sms", "whatsapp", "voice")


def _telecoms(patient: dict, system: str) -> list[dict]:
    live = [t for t in patient.get("telecom", []) if t.get("system") == system and t.get("value")]
    live = [t for t in live if not (t.get("period") or {}).get("end")]
    return sorted(live, key=lambda t: (t.get("rank", 99), t.get("use") != "mobile"))


def address_for(patient: dict, channel: str) -> str | None:
    """The address a message on ``channel`` goes to; SMS and WhatsApp want a mobile number."""
    if channel in _PHONE_CHANNELS:
        phones = _telecoms(patient, "phone") + _telecoms(patient, "sms")
        if channel in ("sms", "whatsapp"):
            phones = [t for t in phones if t.get("use") in (None, "mobile")] or []
        return phones[0]["value"] if phones else None
    if channel == "email":
        emails = _telecoms(patient, "email")
        return emails[0]["value"] if emails else None
    if channel == "local":
        return f"Patient/{patient.get('id')}"
    return None


def preferred_channels(patient: dict) -> list[str]:
    """The preferred-channel extension first, then every channel the patient's telecoms allow."""
    preferred = extension(patient, PREFERRED_CHANNEL_URL)
    ordered = [preferred] if isinstance(preferred, str) else []
    ordered += [c for c in OUTBOUND_CHANNELS if c not in ordered]
    return [c for c in ordered if address_for(patient, c)]


def language_of(patient: dict, default: str) -> str:
    languages = patient.get("communication", [])
    ordered = sorted(languages, key=lambda c: not c.get("preferred", False))
    for item in ordered:
        for coding in item.get("language", {}).get("coding", []):
            if coding.get("code"):
                return coding["code"]
    return default


def timezone_of(patient: dict, default: str) -> ZoneInfo:
    for name in (extension(patient, TZ_URL), default):
        if isinstance(name, str):
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def wants_plain_language(patient: dict) -> bool:
    return extension(patient, PLAIN_LANGUAGE_URL) is True


def patient_id(reference: str) -> str:
    return reference.removeprefix("Patient/")
