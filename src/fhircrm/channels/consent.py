"""Consent for contacting a patient, per channel and purpose, and the STOP/START keywords that change it.

A patient's active Consent (scope patient-privacy) holds a base provision and nested ones: a nested ``deny``
with a channel ``code`` is an opt-out of that channel (what STOP writes), one with a ``purpose`` refuses that
purpose, one with both refuses that purpose on that channel. Marketing needs a permit; other purposes are
allowed unless refused.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime

from fhircrm.channels.codes import (
    CHANNEL_SYSTEM,
    CONSENT_SCOPE,
    OPT_IN_PURPOSES,
    PURPOSE_SYSTEM,
    channel_concept,
    concept,
)
from fhircrm.fhir.store import FhirStore


def _codes(items: list[dict], system: str, *, coding_list: bool = False) -> set[str]:
    if coding_list:  # provision.purpose is a list of Coding
        return {c.get("code") for c in items if c.get("system") == system}
    return {c.get("code") for item in items for c in item.get("coding", []) if c.get("system") == system}


def _matches(provision: dict, channel: str, purpose: str) -> bool:
    channels = _codes(provision.get("code", []), CHANNEL_SYSTEM)
    purposes = _codes(provision.get("purpose", []), PURPOSE_SYSTEM, coding_list=True)
    return (not channels or channel in channels) and (not purposes or purpose in purposes)


def _is_opt_out(provision: dict) -> bool:
    return bool(_codes(provision.get("code", []), CHANNEL_SYSTEM)) and not provision.get("purpose")


def decide(consents: list[dict], channel: str, purpose: str) -> str | None:
    """None when contact is allowed, else the refusal reason: ``opted-out`` or ``consent``."""
    explicit_permit = False
    for consent in consents:
        base = consent.get("provision") or {}
        if base.get("type") == "deny" and _matches(base, channel, purpose):
            return "consent"
        for nested in base.get("provision", []):
            if nested.get("type") == "deny" and _matches(nested, channel, purpose):
                return "opted-out" if _is_opt_out(nested) else "consent"
            if nested.get("type") == "permit" and _matches(nested, channel, purpose):
                explicit_permit = True
        if base.get("type") == "permit":
            purposes = _codes(base.get("purpose", []), PURPOSE_SYSTEM, coding_list=True)
            explicit_permit = explicit_permit or purpose in purposes
    if purpose in OPT_IN_PURPOSES and not explicit_permit:
        return "consent"
    return None


async def active_consents(store: FhirStore, patient_ref: str) -> list[dict]:
    result = await store.search("Consent", [("patient", patient_ref), ("status", "active"), ("_count", "50")])
    return result.matches


def _new_consent(patient_ref: str, now: str) -> dict:
    return {
        "resourceType": "Consent",
        "status": "active",
        "scope": concept(CONSENT_SCOPE, "patient-privacy", "Privacy Consent"),
        "category": [concept("http://loinc.org", "59284-0", "Patient Consent")],
        "patient": {"reference": patient_ref},
        "dateTime": now,
        "policyRule": concept("http://terminology.hl7.org/CodeSystem/v3-ActCode", "OPTIN", "opt-in"),
        "provision": {"type": "permit", "period": {"start": now}},
    }


async def set_opt_out(store: FhirStore, patient_ref: str, channel: str, *, opted_out: bool) -> dict | None:
    """STOP (``opted_out=True``) adds a deny provision for ``channel``; START removes it. Returns the Consent
    written, or None when nothing had to change."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    consents = await active_consents(store, patient_ref)
    consent = copy.deepcopy(consents[0]) if consents else _new_consent(patient_ref, now)
    base = consent.setdefault("provision", {"type": "permit"})
    nested = base.get("provision", [])
    keep = [p for p in nested if not (_is_opt_out(p) and channel in _codes(p.get("code", []), CHANNEL_SYSTEM))]
    if opted_out:
        if len(keep) != len(nested):
            return None  # already opted out
        keep.append({"type": "deny", "period": {"start": now}, "code": [channel_concept(channel)]})
    elif len(keep) == len(nested):
        return None  # was not opted out
    if keep:
        base["provision"] = keep
    else:
        base.pop("provision", None)  # R4 JSON has no empty arrays: the last opt-out withdrawn leaves none
    consent["dateTime"] = now
    if "id" in consent:
        outcome = await store.update("Consent", consent["id"], consent)
    else:
        outcome = await store.create(consent)
    return outcome.content
