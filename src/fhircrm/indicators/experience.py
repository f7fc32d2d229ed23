"""Experience indicators: NPS and CSAT per touchpoint (and location), counted with the ``score`` parameter."""

from __future__ import annotations

from fhircrm.fhir.store import FhirStore
from fhircrm.indicators.counting import Members, count
from fhircrm.indicators.slices import Slice
from fhircrm.surveys.codes import CSAT_URL, NPS_URL, PREM_URL, TOUCHPOINT_SYSTEM, TOUCHPOINTS

DEMO_NPS_URL = "http://fhircrm.org/Questionnaire/demo-nps"


def _params(s: Slice, questionnaires: str, touchpoint: str | None) -> list[tuple[str, str]]:
    params = [*s.period("authored"), ("questionnaire", questionnaires), ("status", "completed")]
    if touchpoint:
        params.append(("_tag", f"{TOUCHPOINT_SYSTEM}|{touchpoint}"))
    if s.location:
        params.append(("encounter.location", s.location))
    return params


async def _nps(store: FhirStore, params: list[tuple[str, str]], segment: Members) -> dict:
    total = await count(store, "QuestionnaireResponse", [*params, ("score", "ge0")], segment=segment)
    promoters = await count(store, "QuestionnaireResponse", [*params, ("score", "ge9")], segment=segment)
    detractors = await count(store, "QuestionnaireResponse", [*params, ("score", "le6")], segment=segment)
    value = round(100 * (promoters - detractors) / total, 1) if total else None
    return {"responses": total, "promoters": promoters, "detractors": detractors, "value": value}


async def _csat(store: FhirStore, params: list[tuple[str, str]], segment: Members) -> dict:
    total = await count(store, "QuestionnaireResponse", [*params, ("score", "ge1")], segment=segment)
    satisfied = await count(store, "QuestionnaireResponse", [*params, ("score", "ge4")], segment=segment)
    return {"responses": total, "satisfied": satisfied, "value": round(satisfied / total, 4) if total else None}


async def nps(store: FhirStore, s: Slice, segment: Members) -> dict:
    urls = f"{NPS_URL},{DEMO_NPS_URL}"
    out = {"all": await _nps(store, _params(s, urls, None), segment), "by_touchpoint": {}}
    for tp in TOUCHPOINTS:
        result = await _nps(store, _params(s, urls, tp), segment)
        if result["responses"]:
            out["by_touchpoint"][tp] = result
    return out


async def csat(store: FhirStore, s: Slice, segment: Members) -> dict:
    urls = f"{CSAT_URL},{PREM_URL}"
    out = {"all": await _csat(store, _params(s, urls, None), segment), "by_touchpoint": {}}
    for tp in TOUCHPOINTS:
        result = await _csat(store, _params(s, urls, tp), segment)
        if result["responses"]:
            out["by_touchpoint"][tp] = result
    return out
