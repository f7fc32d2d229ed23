"""Assess a booked Appointment: one RiskAssessment per appointment and start (conditional create, so the same
booking event twice writes one), with the probability, a qualitative band and the factors that drove it."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator
from contextvars import ContextVar
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode

from fhircrm.clock import fhir_datetime
from fhircrm.config import Settings
from fhircrm.fhir.referenced import read_reference
from fhircrm.fhir.store import FhirStore, Operation
from fhircrm.noshow.ehr_facts import Facts, FrozenRates
from fhircrm.noshow.features import appointment_features, coordinates, distance_km, patient_ref
from fhircrm.noshow.history import History
from fhircrm.noshow.model import NoShowModel, load_model

RISK_SYSTEM = "http://fhircrm.org/noshow-risk"
RISK_PROBABILITY = "http://terminology.hl7.org/CodeSystem/risk-probability"
BAND_CODES = {"low": "low", "medium": "moderate", "high": "high"}
CODE_BANDS = {v: k for k, v in BAND_CODES.items()}
FACTOR_TEXT = {
    "log_lead_days": "long lead time",
    "lead_1_2d": "booked 1-2 days ahead",
    "lead_3_7d": "booked 3-7 days ahead",
    "lead_8_14d": "booked 8-14 days ahead",
    "lead_15_30d": "booked 15-30 days ahead",
    "lead_31d_plus": "booked over a month ahead",
    "prior_noshows": "earlier no-shows",
    "any_prior_noshow": "a no-show before",
    "prior_cancellations": "earlier cancellations",
    "prior_noshow_rate": "a high share of missed visits",
    "log_days_since_last": "long since the last visit",
    "log_prior_bookings": "many bookings",
    "open_bookings": "other upcoming bookings",
    "same_day_bookings": "several bookings made the same day",
    "same_visit_day": "several visits that day",
    "age_13_17": "age 13-17",
    "age_18_24": "age 18-24",
    "age_25_34": "age 25-34",
    "age_35_44": "age 35-44",
    "first_visit": "first visit",
    "log_distance_km": "distance to the clinic",
    "hour_late": "late in the day",
    "booked_12_14": "booked around midday",
    "booked_14_16": "booked in the afternoon",
    "booked_after_16": "booked late in the day",
    "years_old": "age",
    "weekday_monday": "a Monday visit",
    "weekday_tuesday": "a Tuesday visit",
    "weekday_wednesday": "a Wednesday visit",
    "weekday_thursday": "a Thursday visit",
    "weekday_friday": "a Friday visit",
    "weekend": "a weekend visit",
    "hour_early": "early in the day",
    "male": "male",
    "same_day": "booked the same day",
    "condition_hypertension": "hypertension",
    "condition_diabetes": "diabetes",
    "condition_alcoholism": "alcoholism",
    "disability": "a disability",
    "welfare_coverage": "a welfare program",
    "self_pay": "paying for the visit themselves",
    "district_rate": "a district that misses more",
    "practitioner_rate": "a practitioner whose patients miss more",
    "reminders": "reminders sent",
    "age_unknown": "age not recorded",
}


def factor_text(term: str) -> str:
    """A model term in words; a pair term (explainable boosting) as both halves."""
    return " with ".join(FACTOR_TEXT.get(name, name.replace("_", " ")) for name in term.split(" x "))


#: RiskAssessments made inside ``deferred_assessments``, by key, written together when the block ends.
_PENDING: ContextVar[dict[str, dict] | None] = ContextVar("noshow_pending_assessments", default=None)


@contextlib.asynccontextmanager
async def deferred_assessments(store: FhirStore) -> AsyncIterator[None]:
    """Assess many bookings, then write all their RiskAssessments in one store.apply (only if the block
    succeeds); inside, a booking assessed twice is assessed once."""
    pending: dict[str, dict] = {}
    token = _PENDING.set(pending)
    try:
        yield
    finally:
        _PENDING.reset(token)
    if pending:
        await store.apply([Operation("POST", "RiskAssessment", resource=r) for r in pending.values()])


@functools.lru_cache(maxsize=4)
def _model(path: Path | None) -> NoShowModel:
    return load_model(path)


def model_for(settings: Settings) -> NoShowModel:
    return _model(settings.noshow_model_file)


def band(probability: float, settings: Settings, *, model: NoShowModel | None = None) -> str:
    """High from the clinic's call threshold stored with a trained model, else from the settings."""
    cut = (model.meta.get("call_threshold") or {}).get("risk") if model is not None else None
    high = float(cut) if cut is not None else settings.noshow_high_risk
    if probability >= high:
        return "high"
    return "medium" if probability >= min(settings.noshow_medium_risk, high) else "low"


def assessment_key(appointment: dict) -> str:
    return f"Appointment/{appointment['id']}@{appointment.get('start', '')}"


async def assess_appointment(store: FhirStore, appointment: dict, *, settings: Settings, now: datetime) -> dict:
    """The appointment's RiskAssessment, written once per appointment and start."""
    pending = _PENDING.get()
    if pending is not None and assessment_key(appointment) in pending:
        return pending[assessment_key(appointment)]
    existing = await recorded(store, appointment)
    if existing is not None:
        return existing
    assessment = await unrecorded(store, appointment, settings=settings, now=now)
    if pending is not None:
        pending[assessment_key(appointment)] = assessment
        return assessment
    return (await store.create(assessment)).content or assessment  # absent: checked above, in this transaction


async def recorded(store: FhirStore, appointment: dict) -> dict | None:
    """The RiskAssessment already written for this appointment and start, if any."""
    criteria = urlencode({"identifier": f"{RISK_SYSTEM}|{assessment_key(appointment)}"})
    existing = await store.match_one("RiskAssessment", criteria, what="no-show risk")
    return existing.content if existing is not None and existing.content else None


async def unrecorded(store: FhirStore, appointment: dict, *, settings: Settings, now: datetime) -> dict:
    """The appointment's RiskAssessment as it would be written now (only reads the store)."""
    ref = patient_ref(appointment)
    patient = await read_reference(store, ref)
    # All of the patient's appointments: History counts only what was known at this booking's instant.
    theirs = await store.search("Appointment", [("patient", ref or ""), ("_count", "500")])
    conditions, coverages = [], []
    if ref:
        conditions = (await store.search("Condition", [("patient", ref), ("clinical-status", "active")])).matches
        coverages = (await store.search("Coverage", [("beneficiary", ref), ("status", "active")])).matches
    history = History.of([a for a in theirs.matches if a["id"] != appointment["id"]])
    reminders = await store.search(
        "Communication", [("based-on", f"Appointment/{appointment['id']}"), ("status", "completed"), ("_count", "5")]
    )
    location = next(
        (
            p["actor"]["reference"]
            for p in appointment.get("participant", [])
            if (p.get("actor") or {}).get("reference", "").startswith("Location/")
        ),
        None,
    )
    distance = (
        distance_km(coordinates(patient), coordinates(await read_reference(store, location))) if location else None
    )
    model = model_for(settings)
    values = appointment_features(
        appointment,
        patient=patient,
        history=history,
        reminders=len(reminders.matches),
        distance=distance,
        now=now,
        facts=Facts(tuple(conditions), tuple(coverages)),
        rates=FrozenRates(model.meta.get("rates", {})),
    )
    probability = model.probability(values)
    level = band(probability, settings, model=model)
    factors = [factor_text(name) for name, _ in model.top_factors(values)]
    assessment = {
        "resourceType": "RiskAssessment",
        "identifier": [{"system": RISK_SYSTEM, "value": assessment_key(appointment)}],
        "status": "final",
        "method": {
            "coding": [{"system": "http://fhircrm.org/CodeSystem/risk-method", "code": f"noshow-{model.kind}"}],
            "text": f"no-show model {model.version}",
        },
        "code": {"text": "Risk of not attending the appointment"},
        "occurrenceDateTime": fhir_datetime(now),
        "basis": [{"reference": f"Appointment/{appointment['id']}"}],
        "prediction": [
            {
                "outcome": {"text": "No-show"},
                "probabilityDecimal": round(probability, 4),
                "qualitativeRisk": {"coding": [{"system": RISK_PROBABILITY, "code": BAND_CODES[level]}]},
            }
        ],
        "note": [{"text": "Top factors: " + (", ".join(factors) if factors else "none above baseline")}],
    }
    if ref:
        assessment["subject"] = {"reference": ref}
    return assessment


async def risk_band(store: FhirStore, appointment: dict, *, settings: Settings, now: datetime) -> str:
    assessment = await assess_appointment(store, appointment, settings=settings, now=now)
    code = assessment["prediction"][0]["qualitativeRisk"]["coding"][0]["code"]
    return CODE_BANDS.get(code, "low")
