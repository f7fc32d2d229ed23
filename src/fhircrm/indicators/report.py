"""Indicator results as FHIR MeasureReports (summary reports over the slice's period)."""

from __future__ import annotations

from datetime import datetime

from fhircrm.clock import fhir_datetime
from fhircrm.indicators.slices import Slice

MEASURE_BASE = "http://fhircrm.org/Measure/"
SLICE_URL = "http://fhircrm.org/StructureDefinition/indicator-slice"


def _population(code: str, value: int) -> dict:
    system = "http://terminology.hl7.org/CodeSystem/measure-population"
    return {"code": {"coding": [{"system": system, "code": code}]}, "count": value}


def measure_report(indicator: str, s: Slice, result: dict, now: datetime) -> dict:
    """Rates carry numerator/denominator populations and a score; other results (medians, breakdowns) are
    stratified groups, one per key, with the figures in each stratum's measureScore or populations."""
    report: dict = {
        "resourceType": "MeasureReport",
        "status": "complete",
        "type": "summary",
        "measure": f"{MEASURE_BASE}{indicator}",
        "date": fhir_datetime(now),
        "period": {"start": fhir_datetime(s.start), "end": fhir_datetime(s.end)},
        "extension": [
            {"url": f"{SLICE_URL}#{k}", "valueString": str(v)}
            for k, v in s.describe().items()
            if k not in ("start", "end")
        ],
        "group": [],
    }
    if not report["extension"]:
        del report["extension"]
    if {"numerator", "denominator"} <= set(result):
        group: dict = {
            "population": [
                _population("numerator", result["numerator"]),
                _population("denominator", result["denominator"]),
            ]
        }
        if result["value"] is not None:
            group["measureScore"] = {"value": result["value"]}
        report["group"].append(group)
        return report
    stratifier = {"code": [{"text": indicator}], "stratum": []}
    for key, value in _flatten(result):
        stratum: dict = {"value": {"text": key}}
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            stratum["measureScore"] = {"value": value}
        stratifier["stratum"].append(stratum)
    if not stratifier["stratum"]:
        del stratifier["stratum"]  # R4 JSON has no empty arrays
    report["group"].append({"stratifier": [stratifier]})
    return report


def _flatten(data: dict, prefix: str = "") -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.extend(_flatten(value, f"{name}."))
        elif value is not None:
            out.append((name, value))
    return out
