"""What a journey knows when it decides: the event, its subject resource, the patient, the time. Looked up lazily,
so a condition nobody asks about costs nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlencode

from fhircrm.clock import fhir_datetime, parse_fhir_datetime
from fhircrm.config import Settings
from fhircrm.fhir.referenced import read_reference
from fhircrm.fhir.store import FhirStore

SERVICE_LINE_SYSTEM = "http://fhircrm.org/CodeSystem/service-line"
CLOSED_TASK = frozenset({"completed", "cancelled", "failed", "rejected", "entered-in-error"})


@dataclass(kw_only=True)
class JourneyContext:
    store: FhirStore
    settings: Settings
    now: datetime
    subject_ref: str  # "Appointment/123"
    patient_ref: str | None
    event_time: datetime
    plans: list = field(default_factory=list)  # TimerPlans to create together at the end (one batch write)
    _cache: dict = field(default_factory=dict)

    async def _read(self, ref: str | None) -> dict | None:
        if not ref:
            return None
        if ref not in self._cache:
            self._cache[ref] = await read_reference(self.store, ref)
        return self._cache[ref]

    async def flush_plans(self) -> None:
        """Write the timers planned so far (shared by a batch of events) before a step that reads or revokes
        timers, so it sees them."""
        if self.plans:
            from fhircrm.timers.plan import plan_timers

            await plan_timers(self.store, self.plans, now=self.now)
            self.plans.clear()

    async def subject(self) -> dict | None:
        return await self._read(self.subject_ref)

    async def patient(self) -> dict | None:
        return await self._read(self.patient_ref)

    async def start(self) -> datetime | None:
        subject = await self.subject() or {}
        return parse_fhir_datetime(subject["start"]) if subject.get("start") else None

    async def _exists(self, resource_type: str, params: dict) -> bool:
        result = await self.store.search(resource_type, [*params.items(), ("_count", "1")])
        return bool(result.matches)

    # --- the vocabulary ------------------------------------------------------------------------------------

    async def value(self, name: str) -> str | None:
        subject = await self.subject() or {}
        if name == "risk":
            from fhircrm.noshow.assess import risk_band

            if subject and "risk" not in self._cache:
                self._cache["risk"] = await risk_band(self.store, subject, settings=self.settings, now=self.now)
            return self._cache.get("risk")
        if name == "service-line":
            concepts = subject.get("serviceType", []) + subject.get("serviceCategory", [])
            return next(
                (c["code"] for cc in concepts for c in cc.get("coding", []) if c.get("system") == SERVICE_LINE_SYSTEM),
                None,
            )
        if name == "language":
            patient = await self.patient() or {}
            langs = [c["code"] for comm in patient.get("communication", []) for c in comm["language"].get("coding", [])]
            return langs[0].split("-")[0] if langs else None
        if name == "priority":
            return subject.get("priority")
        if name == "task-code":
            return next((c.get("code") for c in subject.get("code", {}).get("coding", [])), None)
        raise ValueError(name)

    async def flag(self, name: str) -> bool:
        subject = await self.subject() or {}
        if name in ("confirmed", "unconfirmed", "appointment-unconfirmed"):
            accepted = any(
                p.get("status") == "accepted"
                for p in subject.get("participant", [])
                if (p.get("actor") or {}).get("reference") == self.patient_ref
            )
            if name == "confirmed":
                return accepted
            return not accepted and (name == "unconfirmed" or subject.get("status") == "booked")
        if name == "appointment-booked":
            return subject.get("status") == "booked"
        if name == "first-visit":
            codes = {c.get("code") for c in subject.get("appointmentType", {}).get("coding", [])}
            return "FOLLOWUP" not in codes
        if name == "task-open":
            return subject.get("status") not in CLOSED_TASK
        if name == "chronic":
            return await self._exists("Condition", {"patient": self.patient_ref or "", "clinical-status": "active"})
        since = fhir_datetime(self.event_time)
        if name == "no-reply-since-event":
            return not await self._exists(
                "Communication", {"sender": self.patient_ref or "", "_lastUpdated": f"ge{since}"}
            )
        if name == "no-appointment-since-event":
            params = {
                "patient": self.patient_ref or "",
                "status": "booked,arrived,fulfilled",
                "_lastUpdated": f"ge{since}",
            }
            return not await self._exists("Appointment", params)
        raise ValueError(name)


def criteria(**params: str) -> str:
    return urlencode(params)
