"""The dashboard's figures, counted in the database, equal the ones worked out by hand on a small clinic."""

from __future__ import annotations

from datetime import timedelta

import httpx
from tests.fixtures.populations import NOW, Writer

from fhircrm.clock import fhir_datetime
from fhircrm.indicators.dashboard import dashboard_figures
from fhircrm.indicators.slices import SERVICE_LINE_SYSTEM

RISK = "http://terminology.hl7.org/CodeSystem/risk-probability"


def _rate(noshow: int, attended: int) -> dict:
    total = noshow + attended
    return {"noshow": noshow, "attended": attended, "total": total, "percent": 100.0 * noshow / total}


async def _clinic(w: Writer) -> None:
    """Four past visits in the 12 weeks, one too old, two cancellations freeing slots, three upcoming.

    a1 p0 North  Dr A  Cardiology   fulfilled  -1d  (week 0)  risk low
    a2 p1 North  -     Cardiology   noshow     -8d  (week 1)  risk low, then high (the latest counts)
    a3 p2 South  Dr A  -            noshow     -2d  (week 0)  not assessed
    a4 p0 South  -     Dermatology  arrived    -20d (week 2)  not assessed
    a5 p1 North  -     -            noshow     -100d (outside the 12 weeks)
    a6 cancelled -3d slot s1; a7 booked +3d slot s1 (recovered), patient accepted; a8 cancelled -4d slot s2
    a9 booked +5d patient needs-action; a10 booked +20d (outside the 14 days)
    """
    p = [await w.patient() for _ in range(3)]
    north = await w.write({"resourceType": "Location", "name": "North"})
    south = await w.write({"resourceType": "Location", "name": "South"})
    doctor = await w.write({"resourceType": "PractitionerRole", "practitioner": {"display": "Dr A"}})
    schedule = await w.write({"resourceType": "Schedule", "actor": [{"reference": f"Location/{north['id']}"}]})
    slots = [
        await w.write(
            {
                "resourceType": "Slot",
                "schedule": {"reference": f"Schedule/{schedule['id']}"},
                "status": "busy",
                "start": fhir_datetime(NOW + timedelta(days=3)),
                "end": fhir_datetime(NOW + timedelta(days=3, minutes=30)),
            }
        )
        for _ in range(2)
    ]

    async def visit(patient, where, status, days, *, who=None, service=None, slot=None, accepted=True):  # type: ignore[no-untyped-def]
        start = NOW + timedelta(days=days)
        participants = [
            {"actor": {"reference": f"Patient/{patient['id']}"}, "status": "accepted" if accepted else "needs-action"}
        ]
        if where:
            participants.append({"actor": {"reference": f"Location/{where['id']}"}, "status": "accepted"})
        if who:
            participants.append({"actor": {"reference": f"PractitionerRole/{who['id']}"}, "status": "accepted"})
        body = {
            "resourceType": "Appointment",
            "status": status,
            "start": fhir_datetime(start),
            "end": fhir_datetime(start + timedelta(minutes=30)),
            "participant": participants,
        }
        if service:
            body["serviceType"] = [
                {"coding": [{"system": SERVICE_LINE_SYSTEM, "code": service.lower(), "display": service}]}
            ]
        if slot:
            body["slot"] = [{"reference": f"Slot/{slot['id']}"}]
        return await w.write(body)

    async def risk(appointment, band):  # type: ignore[no-untyped-def]
        await w.write(
            {
                "resourceType": "RiskAssessment",
                "status": "final",
                "subject": appointment["participant"][0]["actor"],
                "basis": [{"reference": f"Appointment/{appointment['id']}"}],
                "prediction": [{"qualitativeRisk": {"coding": [{"system": RISK, "code": band}]}}],
            }
        )

    a1 = await visit(p[0], north, "fulfilled", -1, who=doctor, service="Cardiology")
    a2 = await visit(p[1], north, "noshow", -8, service="Cardiology")
    await visit(p[2], south, "noshow", -2, who=doctor)
    await visit(p[0], south, "arrived", -20, service="Dermatology")
    await visit(p[1], north, "noshow", -100)
    await visit(p[0], north, "cancelled", -3, slot=slots[0])
    await visit(p[1], north, "booked", 3, slot=slots[0])
    await visit(p[2], north, "cancelled", -4, slot=slots[1])
    await visit(p[2], north, "booked", 5, accepted=False)
    await visit(p[0], north, "booked", 20)
    await risk(a1, "low")
    await risk(a2, "low")
    await risk(a2, "high")


async def _figures(writer: Writer) -> dict:
    await _clinic(writer)
    return await writer.run(lambda store: dashboard_figures(store, NOW))


async def test_the_overall_rate_counts_the_visits_of_the_last_twelve_weeks(writer: Writer) -> None:
    # no-shows a2, a3; attended a1, a4 (a5 is older than 12 weeks)
    assert (await _figures(writer))["overall"] == _rate(2, 2)


async def test_the_weekly_trend_puts_each_visit_in_its_week(writer: Writer) -> None:
    trend = [percent for _label, percent in (await _figures(writer))["trend"]]
    # oldest first: weeks 11..3 empty; week 2 a4 attended; week 1 a2 no-show; week 0 a1 attended, a3 no-show
    assert trend == [None] * 9 + [0.0, 100.0, 50.0]


async def test_rates_by_service_location_provider_and_band(writer: Writer) -> None:
    groups = (await _figures(writer))["groups"]
    assert groups["service"] == {"Cardiology": _rate(1, 1), "Dermatology": _rate(0, 1), "unspecified": _rate(1, 0)}
    assert groups["location"] == {"North": _rate(1, 1), "South": _rate(1, 1)}
    assert groups["provider"] == {"Dr A": _rate(1, 1)}
    assert groups["band"] == {"low": _rate(0, 1), "high": _rate(1, 0), "not assessed": _rate(1, 1)}


async def test_confirmations_and_slots(writer: Writer) -> None:
    # upcoming in 14 days: a7 (accepted), a9 (needs-action); freed s1, s2; s1 booked again by a7
    confirmations = (await _figures(writer))["confirmations"]
    assert confirmations == {"upcoming": 2, "confirmed": 1, "freed": 2, "recovered": 1}


async def test_the_confirmation_measure_is_the_tile_and_the_indicator_over_the_next_fourteen_days(
    writer: Writer, client: httpx.AsyncClient
) -> None:
    # Past visits are never still booked (the demo's all end fulfilled, no-show or cancelled): over the past 12
    # weeks the measure was 0/0 while the tile showed the coming visits. Now both are the booked visits of the
    # next 14 days (a7 accepted, a9 needs-action; a10 is later), and so is the indicator API over that period.
    figures = await _figures(writer)
    measure = figures["measures"]["confirmation-rate"]
    assert (measure["numerator"], measure["denominator"]) == (1, 2)
    assert measure["period"] == "next 14 days"
    tile = figures["confirmations"]
    assert (tile["confirmed"], tile["upcoming"]) == (measure["numerator"], measure["denominator"])
    period = {"start": fhir_datetime(NOW), "end": fhir_datetime(NOW + timedelta(days=14))}
    report = await client.get("http://testserver/api/indicators/confirmation-rate", params=period)
    assert report.status_code == 200
    populations = {p["code"]["coding"][0]["code"]: p["count"] for p in report.json()["group"][0]["population"]}
    assert populations == {"numerator": measure["numerator"], "denominator": measure["denominator"]}


async def test_a_deleted_appointment_is_not_counted(writer: Writer) -> None:
    await _clinic(writer)
    patient = (await writer.search("Patient"))[0]
    start = NOW - timedelta(days=1)
    gone = await writer.write(
        {
            "resourceType": "Appointment",
            "status": "noshow",
            "start": fhir_datetime(start),
            "end": fhir_datetime(start + timedelta(minutes=30)),
            "participant": [{"actor": {"reference": f"Patient/{patient['id']}"}, "status": "accepted"}],
        }
    )
    await writer.run(lambda store: store.delete("Appointment", gone["id"]))
    assert (await writer.run(lambda store: dashboard_figures(store, NOW)))["overall"] == _rate(2, 2)
