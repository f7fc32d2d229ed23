"""Experience indicators: NPS and CSAT per touchpoint (and location), counted with the ``score`` parameter."""

from __future__ import annotations

from collections.abc import Callable

from fhircrm.fhir.store import FhirStore
from fhircrm.indicators.counting import Members
from fhircrm.indicators.matched import score_counts
from fhircrm.indicators.slices import Slice
from fhircrm.surveys.codes import CSAT_URL, NPS_URL, PREM_URL, TOUCHPOINT_SYSTEM, TOUCHPOINTS

DEMO_NPS_URL = "http://fhircrm.org/Questionnaire/demo-nps"


def _params(s: Slice, questionnaires: str) -> list[tuple[str, str]]:
    params = [*s.period("authored"), ("questionnaire", questionnaires), ("status", "completed")]
    if s.location:
        params.append(("encounter.location", s.location))
    return params


def _nps(c: dict[str, int]) -> dict:
    total, promoters, detractors = c["responses"], c["promoters"], c["detractors"]
    value = round(100 * (promoters - detractors) / total, 1) if total else None
    return {"responses": total, "promoters": promoters, "detractors": detractors, "value": value}


def _csat(c: dict[str, int]) -> dict:
    total, satisfied = c["responses"], c["satisfied"]
    return {"responses": total, "satisfied": satisfied, "value": round(satisfied / total, 4) if total else None}


async def _by_touchpoint(
    store: FhirStore, params: list[tuple[str, str]], scores: dict[str, str], segment: Members, figure: Callable
) -> dict:
    counts = await score_counts(
        store, "QuestionnaireResponse", params, scores, tags=(TOUCHPOINT_SYSTEM, TOUCHPOINTS), segment=segment
    )
    by_touchpoint = {tp: figure(counts[tp]) for tp in TOUCHPOINTS if counts.get(tp, {}).get("responses")}
    return {"all": figure(counts["all"]), "by_touchpoint": by_touchpoint}


async def nps(store: FhirStore, s: Slice, segment: Members) -> dict:
    scores = {"responses": "ge0", "promoters": "ge9", "detractors": "le6"}
    return await _by_touchpoint(store, _params(s, f"{NPS_URL},{DEMO_NPS_URL}"), scores, segment, _nps)


async def csat(store: FhirStore, s: Slice, segment: Members) -> dict:
    scores = {"responses": "ge1", "satisfied": "ge4"}
    return await _by_touchpoint(store, _params(s, f"{CSAT_URL},{PREM_URL}"), scores, segment, _csat)
