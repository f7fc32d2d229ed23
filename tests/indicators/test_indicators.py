"""Each indicator on a small clinic whose right answer is worked out by hand (the arithmetic is in each test)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from tests.fixtures.populations import Writer

from fhircrm.inbox.codes import FIRST_RESPONSE_AT_URL, INBOX_SYSTEM
from fhircrm.indicators.compute import compute
from fhircrm.indicators.slices import Slice
from fhircrm.segments.groups import save_definition
from fhircrm.segments.refresh import refresh_all
from fhircrm.segments.rules import parse_rule
from fhircrm.surveys.codes import CSAT_URL, NPS_URL, TOUCHPOINT_SYSTEM

JUNE = Slice(datetime(2031, 6, 1, tzinfo=UTC), datetime(2031, 7, 1, tzinfo=UTC))
TASK_TYPE = "http://fhircrm.org/CodeSystem/task-type"


def t(day: int, hour: int = 10, minute: int = 0) -> str:
    return f"2031-06-{day:02d}T{hour:02d}:{minute:02d}:00Z"


async def _people(w: Writer) -> tuple[list[dict], dict, dict]:
    patients = [await w.patient(birthDate=f"19{50 + i}-01-01") for i in range(4)]
    l1 = await w.write({"resourceType": "Location", "name": "North"})
    l2 = await w.write({"resourceType": "Location", "name": "South"})
    return patients, l1, l2


async def _appointment(
    w: Writer, patient: dict, where: dict, status: str, day: int, *, followup: bool = False, **extra
) -> dict:
    body = {
        "resourceType": "Appointment",
        "status": status,
        "start": t(day),
        "end": t(day, 10, 30),
        "participant": [
            {"actor": {"reference": f"Patient/{patient['id']}"}, "status": extra.pop("patient_status", "accepted")},
            {"actor": {"reference": f"Location/{where['id']}"}, "status": "accepted"},
        ],
        **extra,
    }
    if followup:
        body["appointmentType"] = {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0276", "code": "FOLLOWUP"}]
        }
    return await w.write(body)


async def _visits(w: Writer) -> tuple[list[dict], dict, dict]:
    """p0 L1 fulfilled, p1 L1 noshow, p2 L2 fulfilled, p3 L2 noshow, p0 L1 fulfilled FOLLOWUP, p1 L2 noshow FOLLOWUP."""
    p, l1, l2 = await _people(w)
    await _appointment(w, p[0], l1, "fulfilled", 2)
    await _appointment(w, p[1], l1, "noshow", 3)
    await _appointment(w, p[2], l2, "fulfilled", 4)
    await _appointment(w, p[3], l2, "noshow", 5)
    await _appointment(w, p[0], l1, "fulfilled", 6, followup=True)
    await _appointment(w, p[1], l2, "noshow", 9, followup=True)
    return p, l1, l2


async def _compute(w: Writer, indicator: str, s: Slice = JUNE) -> dict:
    return await w.run(lambda store: compute(store, indicator, s))


async def test_no_show_rate(writer: Writer) -> None:
    await _visits(writer)
    # attended 3 (p0, p2, p0 follow-up), no-shows 3 (p1, p3, p1 follow-up): 3 / (3 + 3) = 0.5
    assert await _compute(writer, "no-show-rate") == {"numerator": 3, "denominator": 6, "value": 0.5}


async def test_no_show_rate_sliced_by_location(writer: Writer) -> None:
    _p, l1, _l2 = await _visits(writer)
    # North: p0 fulfilled, p1 no-show, p0 follow-up fulfilled: 1 / 3
    s = Slice(JUNE.start, JUNE.end, location=f"Location/{l1['id']}")
    assert await _compute(writer, "no-show-rate", s) == {"numerator": 1, "denominator": 3, "value": 0.3333}


async def test_no_show_rate_sliced_by_segment(writer: Writer) -> None:
    _p, _l1, _l2 = await _visits(writer)
    rule = parse_rule({"id": "born-1951", "title": "Born 1951", "all": [{"search": "Patient?birthdate=1951"}]})

    async def segment(store):  # type: ignore[no-untyped-def]
        await save_definition(store, rule)
        await refresh_all(store, JUNE.end)

    await writer.run(segment)
    # only p1 (born 1951): two no-shows, nothing attended: 2 / 2 = 1.0
    s = Slice(JUNE.start, JUNE.end, segment="born-1951")
    assert await _compute(writer, "no-show-rate", s) == {"numerator": 2, "denominator": 2, "value": 1.0}


async def test_a_segment_slice_leaves_out_former_members(writer: Writer) -> None:
    p, _l1, _l2 = await _visits(writer)
    rule = parse_rule(
        {"id": "born-51-52", "title": "Born 1951-52", "all": [{"search": "Patient?birthdate=ge1951&birthdate=le1952"}]}
    )

    async def segment(store):  # type: ignore[no-untyped-def]
        await save_definition(store, rule)
        await refresh_all(store, JUNE.end)

    await writer.run(segment)
    await writer.write({**p[2], "birthDate": "1960-01-01"})  # p2 leaves: kept in the Group as an inactive member
    await writer.run(segment)
    # only p1 is a current member: two no-shows, nothing attended (p2's fulfilled visit no longer counts): 2 / 2
    s = Slice(JUNE.start, JUNE.end, segment="born-51-52")
    assert await _compute(writer, "no-show-rate", s) == {"numerator": 2, "denominator": 2, "value": 1.0}


async def test_follow_up_adherence(writer: Writer) -> None:
    await _visits(writer)
    # follow-ups due: p0 (fulfilled) and p1 (no-show): 1 kept / 2 due = 0.5
    assert await _compute(writer, "follow-up-adherence") == {"numerator": 1, "denominator": 2, "value": 0.5}


async def test_confirmation_rate_counts_only_the_patients_answer(writer: Writer) -> None:
    p, l1, _l2 = await _people(writer)
    await _appointment(writer, p[0], l1, "booked", 20, patient_status="accepted")
    await _appointment(writer, p[1], l1, "booked", 21, patient_status="needs-action")  # the Location accepted
    await _appointment(writer, p[2], l1, "booked", 22, patient_status="accepted")
    # 3 booked, patient accepted on 2: 2 / 3
    assert await _compute(writer, "confirmation-rate") == {"numerator": 2, "denominator": 3, "value": 0.6667}


async def test_late_cancellation_rate(writer: Writer) -> None:
    # cancellations are timed by when they were written (the wall clock), so this clinic lives in the present
    now = datetime.now(UTC).replace(microsecond=0)
    p, _l1, _l2 = await _people(writer)

    async def at(patient: dict, status: str, hours: float) -> None:
        start = (now + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
        end = (now + timedelta(hours=hours, minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
        await writer.write(
            {
                "resourceType": "Appointment",
                "status": status,
                "start": start,
                "end": end,
                "participant": [{"actor": {"reference": f"Patient/{patient['id']}"}, "status": "accepted"}],
            }
        )

    await at(p[0], "cancelled", 3)  # cancelled 3 h before: late
    await at(p[1], "cancelled", 240)  # 10 days before: not late
    await at(p[2], "booked", 72)
    await at(p[3], "booked", 96)
    s = Slice(now - timedelta(days=1), now + timedelta(days=30))
    # late 1 / (2 cancelled + 2 kept) = 0.25
    assert await _compute(writer, "late-cancellation-rate", s) == {"numerator": 1, "denominator": 4, "value": 0.25}


async def test_recovered_slots(writer: Writer) -> None:
    p, l1, _l2 = await _people(writer)
    schedule = await writer.write({"resourceType": "Schedule", "actor": [{"reference": f"Location/{l1['id']}"}]})
    slots = [
        await writer.write(
            {
                "resourceType": "Slot",
                "schedule": {"reference": f"Schedule/{schedule['id']}"},
                "status": "busy",
                "start": t(d),
                "end": t(d, 10, 30),
            }
        )
        for d in (10, 11, 12)
    ]
    ref = [[{"reference": f"Slot/{s['id']}"}] for s in slots]
    await _appointment(writer, p[0], l1, "cancelled", 10, slot=ref[0])
    await _appointment(writer, p[1], l1, "booked", 10, slot=ref[0])  # refilled
    await _appointment(writer, p[2], l1, "cancelled", 11, slot=ref[1])  # freed, never refilled
    await _appointment(writer, p[3], l1, "booked", 12, slot=ref[2])  # never freed
    # freed: slots 10 and 11; refilled: slot 10: 1 / 2
    assert await _compute(writer, "recovered-slots") == {"numerator": 1, "denominator": 2, "value": 0.5}


async def _referrals(w: Writer) -> None:
    p, l1, _l2 = await _people(w)
    refs = [
        await w.write(
            {
                "resourceType": "ServiceRequest",
                "status": "active",
                "intent": "order",
                "subject": {"reference": f"Patient/{p[i]['id']}"},
                "authoredOn": t(2 + i),
            }
        )
        for i in range(3)
    ]
    await _appointment(w, p[0], l1, "fulfilled", 10, basedOn=[{"reference": f"ServiceRequest/{refs[0]['id']}"}])
    await _appointment(w, p[1], l1, "booked", 20, basedOn=[{"reference": f"ServiceRequest/{refs[1]['id']}"}])


async def test_referral_leakage(writer: Writer) -> None:
    await _referrals(writer)
    # 3 referrals, 1 seen (its appointment fulfilled): (3 - 1) / 3 never seen
    assert await _compute(writer, "referral-leakage") == {"numerator": 2, "denominator": 3, "value": 0.6667}


async def test_referral_funnel(writer: Writer) -> None:
    await _referrals(writer)
    # requested 3 -> booked 2 -> completed 1: drop before booking 1/3, after booking 1/2
    assert await _compute(writer, "referral-funnel") == {
        "requested": 3,
        "booked": 2,
        "completed": 1,
        "drop_before_booking": 0.3333,
        "drop_after_booking": 0.5,
    }


async def _response(w: Writer, patient: dict, url: str, link: str, score: int, touchpoint: str) -> None:
    await w.write(
        {
            "resourceType": "QuestionnaireResponse",
            "status": "completed",
            "questionnaire": url,
            "authored": t(12),
            "meta": {"tag": [{"system": TOUCHPOINT_SYSTEM, "code": touchpoint}]},
            "subject": {"reference": f"Patient/{patient['id']}"},
            "item": [{"linkId": link, "answer": [{"valueInteger": score}]}],
        }
    )


async def test_nps_overall_and_by_touchpoint(writer: Writer) -> None:
    p, _l1, _l2 = await _people(writer)
    for score in (10, 9, 5, 7):
        await _response(writer, p[0], NPS_URL, "nps", score, "post-visit")
    await _response(writer, p[1], NPS_URL, "nps", 3, "phone")
    result = await _compute(writer, "nps")
    # post-visit: promoters 2 (10, 9), detractors 1 (5), 4 answers: 100 * (2 - 1) / 4 = 25.0
    assert result["by_touchpoint"]["post-visit"] == {"responses": 4, "promoters": 2, "detractors": 1, "value": 25.0}
    # phone: one detractor: -100.0; all: 100 * (2 - 2) / 5 = 0.0
    assert result["by_touchpoint"]["phone"]["value"] == -100.0
    assert result["all"]["value"] == 0.0


async def test_csat(writer: Writer) -> None:
    p, _l1, _l2 = await _people(writer)
    for score in (5, 4, 2):
        await _response(writer, p[0], CSAT_URL, "csat", score, "complaint-closure")
    # satisfied (4 or 5): 2 of 3 = 0.6667
    assert (await _compute(writer, "csat"))["all"] == {"responses": 3, "satisfied": 2, "value": 0.6667}


async def _task(w: Writer, code: str, system: str = TASK_TYPE, **fields) -> dict:
    return await w.write(
        {"resourceType": "Task", "intent": "order", "code": {"coding": [{"system": system, "code": code}]}, **fields}
    )


async def test_complaint_volume_by_reason_and_closure_time(writer: Writer) -> None:
    await _task(
        writer,
        "complaint",
        status="completed",
        authoredOn=t(1),
        reasonCode={"text": "Waiting time"},
        executionPeriod={"start": t(1, 12), "end": t(2)},
    )  # 24 h
    await _task(
        writer,
        "complaint",
        status="completed",
        authoredOn=t(3),
        reasonCode={"text": "waiting time"},
        executionPeriod={"start": t(3, 11), "end": t(3, 16)},
    )  # 6 h
    await _task(writer, "complaint", status="in-progress", authoredOn=t(4), reasonCode={"text": "Billing"})
    # volume 3: waiting time 2, billing 1; closure median of (24, 6) = 15.0 h
    assert await _compute(writer, "complaints") == {
        "volume": 3,
        "by_reason": {"billing": 1, "waiting time": 2},
        "closed": 2,
        "median_closure_hours": 15.0,
    }


async def test_coordinator_productivity(writer: Writer) -> None:
    for owner, start, end in (("a", t(5, 8), t(5, 10)), ("a", t(6, 8), t(6, 12)), ("b", t(7, 8), t(7, 9))):
        await _task(
            writer,
            "callback",
            status="completed",
            authoredOn=start,
            lastModified=end,
            owner={"reference": f"PractitionerRole/{owner}"},
        )
    # a: 2 done in 2 h and 4 h (median 3.0); b: 1 done in 1 h
    assert await _compute(writer, "coordinator-productivity") == {
        "PractitionerRole/a": {"completed": 2, "median_hours": 3.0},
        "PractitionerRole/b": {"completed": 1, "median_hours": 1.0},
    }


async def _thread(w: Writer, channel: str, minutes: int, status: str = "in-progress") -> dict:
    return await _task(
        w,
        "conversation",
        INBOX_SYSTEM,
        status=status,
        authoredOn=t(5),
        input=[{"type": {"text": "channel"}, "valueString": channel}],
        extension=[
            {
                "url": FIRST_RESPONSE_AT_URL,
                "valueDateTime": (datetime(2031, 6, 5, 10, tzinfo=UTC) + timedelta(minutes=minutes)).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                ),
            }
        ],
    )


async def test_first_response_time_by_channel(writer: Writer) -> None:
    await _thread(writer, "sms", 30)
    await _thread(writer, "sms", 90)
    await _thread(writer, "whatsapp", 10)
    # sms: median of (30, 90) = 60 min; whatsapp: 10 min
    assert await _compute(writer, "first-response-time") == {
        "sms": {"threads": 2, "median_minutes": 60.0},
        "whatsapp": {"threads": 1, "median_minutes": 10.0},
    }


async def test_first_contact_resolution(writer: Writer) -> None:
    p, _l1, _l2 = await _people(writer)
    once = await _thread(writer, "sms", 5, status="completed")
    twice = await _thread(writer, "sms", 5, status="completed")
    await _thread(writer, "sms", 5)  # still open: not counted
    for thread, messages in ((once, 1), (twice, 2)):
        for _ in range(messages):
            await writer.write(
                {
                    "resourceType": "Communication",
                    "status": "completed",
                    "sender": {"reference": f"Patient/{p[0]['id']}"},
                    "partOf": [{"reference": f"Task/{thread['id']}"}],
                }
            )
    # closed threads 2; resolved with the patient writing once: 1: 1 / 2
    assert await _compute(writer, "first-contact-resolution") == {"numerator": 1, "denominator": 2, "value": 0.5}


async def test_the_api_returns_a_measure_report_and_refuses_a_bad_period(client: httpx.AsyncClient) -> None:
    report = await client.get(
        "http://testserver/api/indicators/no-show-rate", params={"start": "2031-06-01", "end": "2031-07-01"}
    )
    assert report.status_code == 200
    body = report.json()
    assert body["resourceType"] == "MeasureReport" and body["measure"].endswith("/no-show-rate")
    assert [p["count"] for p in body["group"][0]["population"]] == [0, 0]
    bad = await client.get(
        "http://testserver/api/indicators/no-show-rate", params={"start": "2031-07-01", "end": "2031-06-01"}
    )
    assert bad.status_code == 400 and bad.json()["resourceType"] == "OperationOutcome"
