"""The worklist: Tasks with their patient, focus and SLA clock, filtered the way coordinators slice their day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fhircrm.errors import Forbidden
from fhircrm.fhir.store import FhirStore
from fhircrm.inbox.codes import INBOX_SYSTEM, TEAM_URL
from fhircrm.ui.fetch import code, display, human_name, parse_instant, ref_id

STATUS_SETS = {
    "open": "requested,received,accepted,ready,in-progress,on-hold",
    "requested": "requested",
    "accepted": "accepted",
    "in-progress": "in-progress",
    "completed": "completed",
}
FILTERS = ("status", "priority", "due", "owner", "team", "reason", "segment", "service", "location")
LIMIT = 500


@dataclass(frozen=True)
class Filters:
    status: str = "open"
    priority: str = ""
    due: str = ""  # overdue | today | week | none
    owner: str = ""  # me | unassigned | a reference
    team: str = ""
    reason: str = ""
    segment: str = ""
    service: str = ""
    location: str = ""

    @classmethod
    def of(cls, query: dict[str, str]) -> Filters:
        values = {k: str(query.get(k, "")).strip()[:120] for k in FILTERS}
        values["status"] = values["status"] if values["status"] in (*STATUS_SETS, "all") else "open"
        return cls(**values)


def sla(due: datetime | None, now: datetime, closed: bool) -> dict:
    """The countdown shown in the row: state (overdue / due-soon / on-track / no-due) and a short text."""
    if closed:
        return {"state": "closed", "text": "closed"}
    if due is None:
        return {"state": "no-due", "text": "no due date"}
    delta = due - now
    seconds = abs(delta.total_seconds())
    amount = (
        f"{int(seconds // 86400)}d" if seconds >= 86400 else f"{int(seconds // 3600)}h {int(seconds % 3600 // 60)}m"
    )
    if delta.total_seconds() < 0:
        return {"state": "overdue", "text": f"overdue {amount}"}
    return {"state": "due-soon" if delta < timedelta(hours=24) else "on-track", "text": f"due in {amount}"}


def _search_params(f: Filters, me: str | None, now: datetime) -> list[tuple[str, str]]:
    params = [
        ("_sort", "-_lastUpdated"),
        ("_count", str(LIMIT)),
        ("_include", "Task:focus"),
        ("_include", "Task:patient"),
    ]
    if f.status != "all":
        params.append(("status", STATUS_SETS[f.status]))
    if f.priority:
        params.append(("priority", f.priority))
    if f.reason:
        params.append(("code", f.reason))
    if f.owner == "me" and me:
        params.append(("owner", me))
    elif f.owner and f.owner not in ("me", "unassigned"):
        params.append(("owner", f.owner))
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    if f.due == "overdue":
        params.append(("due", f"lt{stamp}"))
    elif f.due == "today":
        params.append(("due", f"le{(now + timedelta(hours=24)).strftime('%Y-%m-%dT%H:%M:%SZ')}"))
    elif f.due == "week":
        params.append(("due", f"le{(now + timedelta(days=7)).strftime('%Y-%m-%dT%H:%M:%SZ')}"))
    return params


def _focus_facts(focus: dict | None) -> tuple[str, str, str]:
    """(service line code, location id, location name) of the Task's focus Appointment, if any."""
    if not focus or focus.get("resourceType") != "Appointment":
        return "", "", ""
    service = code((focus.get("serviceType") or [None])[0]) or ""
    place = next((p.get("actor") or {} for p in focus.get("participant", []) if ref_id(p.get("actor"), "Location")), {})
    return service, ref_id(place, "Location") or "", place.get("display", "")


def _team(task: dict) -> str:
    for ext in task.get("extension", []):
        if ext.get("url") == TEAM_URL:
            return (ext.get("valueReference") or {}).get("reference", "")
    return next((code(p) or "" for p in task.get("performerType", [])), "")


async def load(
    store: FhirStore, f: Filters, *, me: str | None, members: set[str] | None, names: dict[str, str] | None = None
) -> list[dict]:
    now = datetime.now(UTC)
    names = names or {}
    result = await store.search("Task", _search_params(f, me, now))
    included = {f"{r['resourceType']}/{r['id']}": r for r in result.included}
    rows = []
    for task in result.matches:
        if code(task.get("code"), INBOX_SYSTEM):
            continue  # conversation threads live in the inbox
        patient_ref = (task.get("for") or {}).get("reference", "")
        focus = included.get((task.get("focus") or {}).get("reference", ""))
        service, location, location_name = _focus_facts(focus)
        due = parse_instant(((task.get("restriction") or {}).get("period") or {}).get("end"))
        row = {
            "id": task["id"],
            "patient_id": ref_id(patient_ref, "Patient"),
            "patient": human_name(included.get(patient_ref)) if included.get(patient_ref) else "",
            "reason": code(task.get("code")) or "",
            "label": display(task.get("code")) or code(task.get("code")) or "Task",
            "description": task.get("description", ""),
            "status": task.get("status"),
            "priority": task.get("priority", "routine"),
            "owner": (task.get("owner") or {}).get("reference", ""),
            "owner_name": (task.get("owner") or {}).get("display")
            or names.get(task.get("owner", {}).get("reference"), ""),
            "team": _team(task),
            "service": service,
            "location": location,
            "location_name": location_name,
            "due": due,
            "sla": sla(due, now, task.get("status") in ("completed", "cancelled")),
        }
        if f.due == "none" and due is not None:
            continue
        if f.owner == "unassigned" and row["owner"]:
            continue
        if f.team and row["team"] != f.team:
            continue
        if f.service and service != f.service:
            continue
        if f.location and location != f.location:
            continue
        if members is not None and patient_ref not in members:
            continue
        rows.append(row)
    await _fill_names(store, rows)
    order = {"overdue": 0, "due-soon": 1, "on-track": 2, "no-due": 3, "closed": 4}
    return collapse(sorted(rows, key=lambda r: (order[r["sla"]["state"]], r["due"] or now)))


async def _fill_names(store: FhirStore, rows: list[dict]) -> None:
    """Names of the patients the ``_include`` did not bring (one ``_id`` search), so every row names its patient."""
    missing = sorted({r["patient_id"] for r in rows if r["patient_id"] and not r["patient"]})
    for start in range(0, len(missing), 200):
        chunk = missing[start : start + 200]
        found = await store.search("Patient", [("_id", ",".join(chunk)), ("_count", str(len(chunk)))])
        names = {p["id"]: human_name(p) for p in found.matches}
        for row in rows:
            if row["patient_id"] in names and not row["patient"]:
                row["patient"] = names[row["patient_id"]]


def collapse(rows: list[dict]) -> list[dict]:
    """Open tasks of one patient for one reason are one piece of work: one row (the most urgent, since ``rows``
    come sorted by urgency) with ``count`` and every task's id in ``ids``, so an action on the row acts on all."""
    kept: dict[tuple, dict] = {}
    out = []
    for row in rows:
        alike = row["sla"]["state"] != "closed" and row["patient_id"]
        key = (row["patient_id"], row["reason"] or row["label"]) if alike else ("", row["id"])
        first = kept.get(key)
        if first is None:
            kept[key] = {**row, "count": 1, "ids": [row["id"]]}
            out.append(kept[key])
        else:
            first["count"] += 1
            first["ids"].append(row["id"])
    return out


async def segment_members(store: FhirStore, group_id: str) -> set[str]:
    group = (await store.read("Group", group_id)).content or {}
    return {(m.get("entity") or {}).get("reference", "") for m in group.get("member", [])}


async def _optional(store: FhirStore, resource_type: str, params: list[tuple[str, str]]) -> list[dict]:
    """A menu's choices; none (the menu stays empty) when the sign-in may not search them."""
    try:
        return (await store.search(resource_type, params)).matches
    except Forbidden:
        return []


async def options(store: FhirStore) -> dict[str, list[tuple[str, str]]]:
    """Choices for the filter and assignment menus: staff, segments, locations."""
    roles = await _optional(store, "PractitionerRole", [("_count", "200")])
    groups = await _optional(store, "Group", [("_count", "100")])
    places = await _optional(store, "Location", [("_count", "100")])
    staff = [(f"PractitionerRole/{r['id']}", (r.get("practitioner") or {}).get("display") or r["id"]) for r in roles]
    return {
        "staff": sorted(staff, key=lambda s: s[1]),
        "segments": [(g["id"], g.get("name") or g["id"]) for g in groups],
        "locations": [(p["id"], p.get("name") or p["id"]) for p in places],
    }
