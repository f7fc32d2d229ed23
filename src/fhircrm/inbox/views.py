"""The JSON the inbox API returns for a thread: state, owner, SLA clocks, and (in detail) its messages."""

from __future__ import annotations

from datetime import UTC, datetime

from fhircrm.channels.codes import channel_of as message_channel
from fhircrm.channels.codes import extension
from fhircrm.channels.thread_sla import alerts_of
from fhircrm.inbox.codes import FIRST_RESPONSE_AT_URL, FIRST_RESPONSE_DUE_URL, RESOLUTION_DUE_URL, TEAM_URL
from fhircrm.inbox.threads import channel_of, state_of, topic_of


def _parse(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def sla(thread: dict, now: datetime | None = None) -> dict:
    now = now or datetime.now(UTC)
    first_due = _parse(extension(thread, FIRST_RESPONSE_DUE_URL))
    first_at = _parse(extension(thread, FIRST_RESPONSE_AT_URL))
    resolution_due = _parse(extension(thread, RESOLUTION_DUE_URL))
    closed = thread.get("status") == "completed"
    closed_at = _parse(thread.get("lastModified")) if closed else None
    return {
        "first_response_due": extension(thread, FIRST_RESPONSE_DUE_URL),
        "first_response_at": extension(thread, FIRST_RESPONSE_AT_URL),
        "first_response_breached": bool(first_due and (first_at or now) > first_due),
        "resolution_due": extension(thread, RESOLUTION_DUE_URL),
        "resolution_breached": bool(resolution_due and (closed_at or now) > resolution_due),
        "alerts": sorted(alerts_of(thread)),  # what the SLA sweep flagged (warnings and breaches)
    }


def thread_view(thread: dict) -> dict:
    team = extension(thread, TEAM_URL)
    return {
        "id": thread["id"],
        "version": thread.get("meta", {}).get("versionId"),
        "patient": (thread.get("for") or {}).get("reference"),
        "topic": topic_of(thread),
        "channel": channel_of(thread),
        "status": "closed" if thread.get("status") == "completed" else "open",
        "state": state_of(thread),
        "unread": state_of(thread) == "unread",
        "waiting": state_of(thread) in ("unread", "waiting"),
        "owner": (thread.get("owner") or {}).get("reference"),
        "team": team.get("reference") if isinstance(team, dict) else None,
        "priority": thread.get("priority"),
        "reason": next((c.get("code") for c in thread.get("reasonCode", {}).get("coding", [])), None),
        "resolution": next((o.get("valueString") for o in thread.get("output", [])), None),
        "opened": thread.get("authoredOn"),
        "last_activity": thread.get("lastModified"),
        "sla": sla(thread),
    }


def message_view(comm: dict) -> dict:
    sender = (comm.get("sender") or {}).get("reference")
    return {
        "id": comm["id"],
        "direction": "outbound" if comm.get("recipient") or comm.get("sent") else "inbound",
        "channel": message_channel(comm),
        "status": comm.get("status"),
        "text": next((p["contentString"] for p in comm.get("payload", []) if "contentString" in p), ""),
        "sender": sender,
        "at": comm.get("received") or comm.get("sent") or comm.get("meta", {}).get("lastUpdated"),
        "in_response_to": [r.get("reference") for r in comm.get("inResponseTo", [])],
    }
