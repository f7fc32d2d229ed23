"""Everything the Patient 360 page shows, gathered from the store in a handful of searches."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from fhircrm.channels import consent, contacts
from fhircrm.channels.codes import CHANNEL_SYSTEM, OUTBOUND_CHANNELS, PURPOSE_SYSTEM, TASK_TYPE_SYSTEM
from fhircrm.config import Settings
from fhircrm.errors import Forbidden
from fhircrm.fhir.store import FhirStore
from fhircrm.inbox.codes import INBOX_SYSTEM
from fhircrm.ui.fetch import code, display, human_name, parse_instant, ref_id

OPEN_TASK = "requested,received,accepted,ready,in-progress,on-hold"
UPCOMING = ("proposed", "pending", "booked", "arrived", "checked-in", "waitlist")
NPS_QUESTIONNAIRE = "http://fhircrm.org/Questionnaire/demo-nps"
#: Sections the page shows without when the sign-in may not search them (a patient token and Groups).
OPTIONAL = frozenset({"risks", "surveys", "groups", "flags"})


@dataclass
class Patient360:
    patient: dict
    name: str
    language: str
    channels: list[dict]  # {channel, reachable, blocked}
    segments: list[str]
    flags: list[str]
    appointments: list[dict]
    timeline: list[dict]
    tasks: list[dict]
    surveys: list[dict]
    complaints: list[dict]
    education: list[dict]
    stage: str
    consent_status: str
    extra: dict = field(default_factory=dict)


def _age(birth: str | None, today: datetime) -> str:
    if not birth or len(birth) < 4:
        return ""
    born = datetime.fromisoformat(birth[:10]) if len(birth) >= 10 else datetime(int(birth[:4]), 1, 1)
    years = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    return str(years)


def _channels(patient: dict, consents: list[dict]) -> list[dict]:
    preferred = contacts.preferred_channels(patient)
    rows = []
    for channel in dict.fromkeys([*preferred, *OUTBOUND_CHANNELS]):
        rows.append(
            {
                "channel": channel,
                "preferred": channel in preferred[:1],
                "reachable": contacts.address_for(patient, channel) is not None,
                "blocked": consent.decide(consents, channel, "care-coordination"),
            }
        )
    return rows


def _consent_status(consents: list[dict]) -> str:
    if not consents:
        return "no consent on file"
    denies = sum(
        1 for c in consents for p in (c.get("provision") or {}).get("provision", []) if p.get("type") == "deny"
    )
    return "active" + (f", {denies} opt-out{'s' if denies != 1 else ''}" if denies else "")


def _appointment_row(appt: dict, risks: dict[str, dict]) -> dict:
    me = next((p for p in appt.get("participant", []) if ref_id(p.get("actor"), "Patient")), {})
    others = [p.get("actor") or {} for p in appt.get("participant", []) if not ref_id(p.get("actor"), "Patient")]
    risk = risks.get(appt["id"])
    prediction = (risk or {}).get("prediction", [{}])[0]
    return {
        "id": appt["id"],
        "start": parse_instant(appt.get("start")),
        "status": appt.get("status"),
        "service": display((appt.get("serviceType") or [None])[0]),
        "with": ", ".join(a.get("display", "") for a in others if a.get("display")),
        "confirmed": me.get("status") == "accepted",
        "participant_status": me.get("status", "needs-action"),
        "risk": prediction.get("probabilityDecimal"),
        "risk_band": code(prediction.get("qualitativeRisk")),
        "risk_why": " ".join(n.get("text", "") for n in (risk or {}).get("note", [])),
    }


def _message_row(comm: dict, patient_ref: str) -> dict:
    inbound = (comm.get("sender") or {}).get("reference") == patient_ref
    at = parse_instant(comm.get("received") or comm.get("sent") or (comm.get("meta") or {}).get("lastUpdated"))
    return {
        "id": comm["id"],
        "direction": "in" if inbound else "out",
        "channel": next((code(c, CHANNEL_SYSTEM) for c in comm.get("category", []) if code(c, CHANNEL_SYSTEM)), "-"),
        "purpose": next((code(c, PURPOSE_SYSTEM) for c in comm.get("category", []) if code(c, PURPOSE_SYSTEM)), None),
        "status": comm.get("status"),
        "reason": display(comm.get("statusReason")) if comm.get("status") == "not-done" else "",
        "text": next((p["contentString"] for p in comm.get("payload", []) if "contentString" in p), ""),
        "at": at,
        "count": 1,
    }


def collapse_suppressed(timeline: list[dict]) -> list[dict]:
    """Messages policy held back (``not-done``) say why, and alike ones in a row (same channel, text and
    reason) become one line with a count and the time span, instead of nine identical entries."""
    out: list[dict] = []
    for message in timeline:
        last = out[-1] if out else None
        alike = (
            last is not None
            and message["status"] == "not-done"
            and last["status"] == "not-done"
            and (last["channel"], last["text"], last["reason"])
            == (message["channel"], message["text"], message["reason"])
        )
        if alike:
            last["count"] += 1
            last["first_at"] = message["at"]  # the timeline is newest first: this one is older
        else:
            out.append({**message, "first_at": message["at"]})
    return out


def _task_row(task: dict, now: datetime) -> dict:
    due = parse_instant(((task.get("restriction") or {}).get("period") or {}).get("end"))
    return {
        "id": task["id"],
        "code": code(task.get("code")) or "task",
        "label": display(task.get("code")) or code(task.get("code")) or "Task",
        "description": task.get("description", ""),
        "status": task.get("status"),
        "priority": task.get("priority", "routine"),
        "due": due,
        "overdue": bool(due and due < now and task.get("status") not in ("completed", "cancelled")),
        "owner": (task.get("owner") or {}).get("display") or ref_id(task.get("owner")) or "",
        "thread": bool(code(task.get("code"), INBOX_SYSTEM)),  # inbox conversations show in the timeline
    }


def _survey_row(response: dict) -> dict:
    score = None
    comment = ""
    for item in response.get("item", []):
        answer = (item.get("answer") or [{}])[0]
        if item.get("linkId") == "nps":
            score = answer.get("valueInteger")
        elif item.get("linkId") == "comment":
            comment = answer.get("valueString", "")
    return {
        "id": response["id"],
        "questionnaire": (response.get("questionnaire") or "").rsplit("/", 1)[-1],
        "score": score,
        "comment": comment,
        "at": parse_instant(response.get("authored")),
    }


def journey_stage(appointments: list[dict], now: datetime) -> str:
    """A coarse stage from the visit history (the journeys package keeps no per-patient stage resource)."""
    future = [a for a in appointments if a["start"] and a["start"] >= now and a["status"] != "cancelled"]
    past = [a for a in appointments if a["start"] and a["start"] < now]
    if any(a["status"] == "waitlist" for a in appointments):
        return "Waiting for a slot"
    if future:
        return "Visit booked" if any(a["confirmed"] for a in future) else "Visit booked, unconfirmed"
    last = max(past, key=lambda a: a["start"], default=None)
    if last is None:
        return "New, no visits yet"
    if last["status"] == "noshow":
        return "Missed last visit: recall"
    if last["start"] > now - timedelta(days=30):
        return "Post-visit follow-up"
    return "Between visits"


async def gather(store: FhirStore, settings: Settings, patient_id: str) -> Patient360:
    patient = (await store.read("Patient", patient_id)).content or {}
    ref = f"Patient/{patient_id}"
    now = datetime.now(UTC)
    searches = {
        "appointments": ("Appointment", [("patient", ref), ("_sort", "-date"), ("_count", "60")]),
        "risks": ("RiskAssessment", [("subject", ref), ("_count", "200")]),
        "sent": ("Communication", [("subject", ref), ("_sort", "-_lastUpdated"), ("_count", "60")]),
        "received": ("Communication", [("sender", ref), ("_sort", "-_lastUpdated"), ("_count", "60")]),
        "tasks": ("Task", [("patient", ref), ("_sort", "-_lastUpdated"), ("_count", "100")]),
        "surveys": ("QuestionnaireResponse", [("subject", ref), ("_sort", "-authored"), ("_count", "20")]),
        "groups": ("Group", [("member", ref), ("_count", "50")]),
        "flags": ("Flag", [("patient", ref), ("status", "active"), ("_count", "50")]),
    }
    found: dict[str, list[dict]] = {}
    for key, (kind, params) in searches.items():  # one connection: searches run one after another
        try:
            found[key] = (await store.search(kind, params)).matches
        except Forbidden:
            if key not in OPTIONAL:
                raise
            found[key] = []  # a section this sign-in may not read is left empty, not the whole page refused
    consents = await consent.active_consents(store, ref)
    risks = {
        ref_id(b, "Appointment"): r for r in found["risks"] for b in r.get("basis", []) if ref_id(b, "Appointment")
    }
    appointments = [_appointment_row(a, risks) for a in found["appointments"]]
    upcoming = sorted(
        (a for a in appointments if a["status"] in UPCOMING and (a["start"] is None or a["start"] >= now)),
        key=lambda a: a["start"] or now,
    )
    messages = {c["id"]: _message_row(c, ref) for c in [*found["sent"], *found["received"]]}
    timeline = collapse_suppressed(sorted(messages.values(), key=lambda m: m["at"] or now, reverse=True))[:40]
    tasks = [_task_row(t, now) for t in found["tasks"]]
    return Patient360(
        patient=patient,
        name=human_name(patient),
        language=contacts.language_of(patient, settings.channels_default_language),
        channels=_channels(patient, consents),
        segments=[g.get("name") or g["id"] for g in found["groups"]],
        flags=[display(f.get("code")) or "flag" for f in found["flags"]],
        appointments=upcoming,
        timeline=timeline,
        tasks=[t for t in tasks if t["status"] in OPEN_TASK.split(",") and not t["thread"]],
        surveys=[_survey_row(r) for r in found["surveys"]],
        complaints=[t for t in tasks if t["code"] == "complaint"],
        education=[m for m in timeline if m["purpose"] == "education"],
        stage=journey_stage(appointments, now),
        consent_status=_consent_status(consents),
        extra={
            "age": _age(patient.get("birthDate"), now),
            "gender": patient.get("gender", ""),
            "mrn": next((i.get("value") for i in patient.get("identifier", [])), ""),
            "task_system": TASK_TYPE_SYSTEM,
        },
    )
