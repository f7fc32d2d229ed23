"""The synthetic demo clinic: deterministic, valid FHIR, referentially complete and believable."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

from fhircrm.demo import ClinicSpec, generate_clinic, noshow_stats, to_transaction_bundle
from fhircrm.demo import codes as c
from fhircrm.demo.generator import MAX_BATCH
from fhircrm.demo.roster import build_roster
from fhircrm.demo.stats import parse_fhir_datetime

# Spans both DST transitions (2024-11-03 and 2025-03-09) in the 120-day window.
TODAY = dt.date(2025, 3, 10)
NOW = dt.datetime(2025, 3, 10, 7, 0, tzinfo=dt.timezone(dt.timedelta(hours=-4)))
SPEC = ClinicSpec(patients=400, today=TODAY)
ID_PATTERN = re.compile(r"^[a-z0-9-]{1,64}$")


@pytest.fixture(scope="module")
def batches() -> list[list[dict[str, Any]]]:
    return list(generate_clinic(SPEC))


@pytest.fixture(scope="module")
def resources(batches: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [r for batch in batches for r in batch]


@pytest.fixture(scope="module")
def by_type(resources: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in resources:
        out[r["resourceType"]].append(r)
    return out


def _references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield value
            else:
                yield from _references(value)
    elif isinstance(node, list):
        for item in node:
            yield from _references(item)


def _dump(spec: ClinicSpec) -> str:
    return json.dumps(list(generate_clinic(spec)), sort_keys=True)


# --- determinism and shape --------------------------------------------------------------


def test_same_seed_gives_identical_output_and_other_seed_differs() -> None:
    small = ClinicSpec(patients=40, days=60, today=TODAY)
    assert _dump(small) == _dump(ClinicSpec(patients=40, days=60, today=TODAY))
    assert _dump(small) != _dump(ClinicSpec(patients=40, days=60, seed=8, today=TODAY))


def test_batches_are_bounded_and_wrap_as_put_transactions(batches: list[list[dict[str, Any]]]) -> None:
    assert all(0 < len(b) <= MAX_BATCH for b in batches)
    bundle = to_transaction_bundle(batches[1], base_url="http://localhost:8000/fhir/")
    get_fhir_model_class("Bundle").model_validate(bundle)
    first = bundle["entry"][0]
    resource = first["resource"]
    assert first["request"] == {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"}
    assert first["fullUrl"] == f"http://localhost:8000/fhir/{resource['resourceType']}/{resource['id']}"
    assert "fullUrl" not in to_transaction_bundle(batches[1])["entry"][0]


def test_every_resource_validates_as_fhir(resources: list[dict[str, Any]]) -> None:
    failures = []
    for r in resources:
        try:
            get_fhir_model_class(r["resourceType"]).model_validate(r)
        except Exception as exc:  # collect all, report a few
            failures.append(f"{r['resourceType']}/{r['id']}: {exc}")
    assert not failures, "\n".join(failures[:5])


def test_ids_are_client_safe_and_unique_per_type(resources: list[dict[str, Any]]) -> None:
    seen = Counter((r["resourceType"], r["id"]) for r in resources)
    assert [key for key, n in seen.items() if n > 1] == []
    assert all(ID_PATTERN.match(r["id"]) for r in resources)
    assert all(
        r["meta"]["tag"][0] == {"system": c.DATA_ORIGIN_SYSTEM, "code": "demo", "display": "Synthetic demo data"}
        for r in resources
    )


def test_references_resolve_to_resources_in_the_same_or_an_earlier_batch(
    batches: list[list[dict[str, Any]]],
) -> None:
    known: set[str] = set()
    dangling, checked = [], 0
    for batch in batches:
        known.update(f"{r['resourceType']}/{r['id']}" for r in batch)
        refs = [ref for r in batch for ref in _references(r)]
        checked += len(refs)
        dangling += [ref for ref in refs if ref not in known]
    assert dangling == [] and checked > 20 * SPEC.patients


def test_resources_do_not_share_mutable_objects(batches: list[list[dict[str, Any]]]) -> None:
    """A server that stamps meta.versionId in place must not touch other resources."""
    first, second = batches[1][0], batches[1][1]
    assert first["meta"] is not second["meta"]


def test_zero_patients_still_yields_the_network() -> None:
    resources = [r for b in generate_clinic(ClinicSpec(patients=0, days=14, today=TODAY)) for r in b]
    types = Counter(r["resourceType"] for r in resources)
    assert types["Patient"] == 0
    assert types["Organization"] == 2 and types["Location"] == 3 and types["HealthcareService"] == 5
    assert types["Practitioner"] == 12 and types["PractitionerRole"] == 12
    assert types["Slot"] > 0  # the open future grid


def test_spec_requires_a_date_and_sane_sizes() -> None:
    with pytest.raises(TypeError):
        ClinicSpec()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        ClinicSpec(today=dt.datetime(2025, 1, 1))
    with pytest.raises(ValueError):
        ClinicSpec(patients=-1, today=TODAY)
    with pytest.raises(ValueError):
        ClinicSpec(days=0, today=TODAY)


def test_staff_scales_with_patients_but_default_is_the_small_network() -> None:
    small = build_roster(7, 200, 86, 21)
    assert len(small.clinicians) == 9 and len(small.coordinators) == 3
    assert len(build_roster(7, 100_000, 86, 21).clinicians) > 300


# --- network ----------------------------------------------------------------------------


def test_network_resources(by_type: dict[str, list[dict[str, Any]]]) -> None:
    assert {r["type"][0]["coding"][0]["code"] for r in by_type["HealthcareService"]} == {
        "primary-care",
        "cardiology",
        "dermatology",
        "pediatrics",
        "physiotherapy",
    }
    assert all(r["type"][0]["coding"][0]["system"] == c.SERVICE_LINE_SYSTEM for r in by_type["HealthcareService"])
    assert all("latitude" in r["position"] and r["address"]["postalCode"] for r in by_type["Location"])
    role_codes = Counter(
        coding["code"]
        for r in by_type["PractitionerRole"]
        for cc in r["code"]
        for coding in cc["coding"]
        if coding["system"] in (c.PRACTITIONER_ROLE, c.CRM_ROLE_SYSTEM)
    )
    assert role_codes["coordinator"] == 3
    assert role_codes["doctor"] + role_codes["nurse"] == 9
    assert all(r["location"] and r["healthcareService"] for r in by_type["PractitionerRole"])
    (questionnaire,) = by_type["Questionnaire"]
    assert questionnaire["id"] == "demo-nps" and questionnaire["item"][0]["type"] == "integer"


# --- patients -----------------------------------------------------------------------------


def test_patients_are_diverse_and_contactable(by_type: dict[str, list[dict[str, Any]]]) -> None:
    patients = by_type["Patient"]
    assert len(patients) == SPEC.patients
    channels = Counter(p["extension"][0]["valueCode"] for p in patients)
    assert set(channels) == set(c.CHANNELS)
    languages = Counter(
        comm["language"]["coding"][0]["code"] for p in patients for comm in p["communication"] if comm["preferred"]
    )
    assert set(languages) == {"en", "es", "pt"} and languages["en"] > languages["es"] > languages["pt"]
    ages = [(TODAY - dt.date.fromisoformat(p["birthDate"])).days / 365.25 for p in patients]
    assert 0.1 < sum(a < 18 for a in ages) / len(ages) < 0.3
    assert 0.1 < sum(a >= 65 for a in ages) / len(ages) < 0.3
    phones = [t["value"] for p in patients for t in p["telecom"] if t["system"] == "phone"]
    assert len(set(phones)) == len(phones)
    assert all(re.fullmatch(r"\+1[2-9]\d\d55501\d\d", n) for n in phones)
    emails = [t["value"] for p in patients for t in p["telecom"] if t["system"] == "email"]
    assert all(e.endswith("@example.org") for e in emails)
    for p in patients:
        if p["extension"][0]["valueCode"] == "email":
            assert any(t["system"] == "email" for t in p["telecom"])


def test_consent_coverage_and_conditions(by_type: dict[str, list[dict[str, Any]]]) -> None:
    n = SPEC.patients
    consents = by_type["Consent"]
    assert len(consents) == n and all(r["provision"]["type"] == "permit" for r in consents)
    history_start = TODAY - dt.timedelta(days=SPEC.days)
    assert all(parse_fhir_datetime(r["dateTime"]).date() < history_start for r in consents)
    restricted = [r for r in consents if r["provision"].get("provision")]
    assert 0.02 * n <= len(restricted) <= 0.09 * n
    assert all(sub["type"] == "deny" for r in restricted for sub in r["provision"]["provision"])

    coverages = by_type["Coverage"]
    insured = [r for r in coverages if r["payor"][0]["reference"].startswith("Organization/")]
    assert 0.65 < len(insured) / n < 0.85
    self_pay = [r for r in coverages if r not in insured]
    assert all(
        r["type"]["coding"][0] == {"system": c.COVERAGE_SELFPAY, "code": "pay", "display": "PAY"} for r in self_pay
    )

    prevalence = Counter(r["code"]["coding"][0]["code"] for r in by_type["Condition"])
    assert 0.14 < prevalence["38341003"] / n < 0.27
    assert 0.05 < prevalence["44054006"] / n < 0.15
    assert 0.02 < prevalence["195967001"] / n < 0.09


def test_contact_respects_consent(by_type: dict[str, list[dict[str, Any]]]) -> None:
    denied_channels: dict[str, set[str]] = defaultdict(set)
    survey_opt_out: set[str] = set()
    preferred = {f"Patient/{p['id']}": p["extension"][0]["valueCode"] for p in by_type["Patient"]}
    for consent in by_type["Consent"]:
        patient = consent["patient"]["reference"]
        for sub in consent["provision"].get("provision", []):
            denied_channels[patient].update(cc["coding"][0]["code"] for cc in sub.get("code", []))
            if any(p["code"] == "survey" for p in sub.get("purpose", [])):
                survey_opt_out.add(patient)
    assert all(preferred[p] not in chans for p, chans in denied_channels.items())
    for comm in by_type["Communication"]:
        channel = next(
            cc["coding"][0]["code"] for cc in comm["category"] if cc["coding"][0]["system"] == c.CHANNEL_SYSTEM
        )
        assert channel not in denied_channels[comm["subject"]["reference"]]
    assert not [qr for qr in by_type["QuestionnaireResponse"] if qr["subject"]["reference"] in survey_opt_out]


# --- scheduling ---------------------------------------------------------------------------


def test_appointments_are_coherent_with_slots(by_type: dict[str, list[dict[str, Any]]]) -> None:
    slots = {s["id"]: s for s in by_type["Slot"]}
    for appt in by_type["Appointment"]:
        start, end = parse_fhir_datetime(appt["start"]), parse_fhir_datetime(appt["end"])
        assert re.search(r"[+-]0[45]:00$", appt["start"])
        assert parse_fhir_datetime(appt["created"]) < start
        assert (end - start).total_seconds() == appt["minutesDuration"] * 60 in (15 * 60, 30 * 60)
        assert start.weekday() < 5 and 8 <= start.hour < 17
        actors = [p["actor"]["reference"].split("/")[0] for p in appt["participant"]]
        assert actors == ["Patient", "PractitionerRole", "Location"]
        if appt["status"] == "cancelled":
            assert "slot" not in appt and appt["cancelationReason"]
            continue
        slot = slots[appt["slot"][0]["reference"].split("/")[1]]
        assert (slot["start"], slot["end"]) == (appt["start"], appt["end"])
        expected = "busy-tentative" if appt["status"] in ("proposed", "pending") else "busy"
        assert slot["status"] == expected

    # no clinician is double-booked and free slots never overlap busy ones
    taken: Counter[tuple[str, str]] = Counter((s["schedule"]["reference"], s["start"]) for s in slots.values())
    assert max(taken.values()) == 1
    free = [s for s in slots.values() if s["status"] == "free"]
    assert free and all(parse_fhir_datetime(s["start"]).date() > TODAY for s in free)


def test_past_and_future_statuses(by_type: dict[str, list[dict[str, Any]]]) -> None:
    past = [a for a in by_type["Appointment"] if parse_fhir_datetime(a["start"]) < NOW]
    future = [a for a in by_type["Appointment"] if parse_fhir_datetime(a["start"]) > NOW]
    assert {a["status"] for a in past} == {"fulfilled", "noshow", "cancelled"}
    assert {a["status"] for a in future} <= {"booked", "pending", "proposed"}
    assert Counter(a["status"] for a in future).most_common(1)[0][0] == "booked"
    per_patient = Counter(a["participant"][0]["actor"]["reference"] for a in past)
    assert 4.5 < sum(per_patient.values()) / SPEC.patients < 6.5
    cancelled = sum(a["status"] == "cancelled" for a in past) / len(past)
    assert 0.05 < cancelled < 0.11
    types = Counter(a["appointmentType"]["coding"][0]["code"] for a in by_type["Appointment"])
    assert set(types) == {"ROUTINE", "FOLLOWUP", "WALKIN"}


def test_no_activity_is_recorded_after_now(by_type: dict[str, list[dict[str, Any]]]) -> None:
    stamps = [a["created"] for a in by_type["Appointment"]]
    stamps += [e["period"]["end"] for e in by_type["Encounter"]]
    stamps += [m["sent"] for m in by_type["Communication"]]
    stamps += [q["authored"] for q in by_type["QuestionnaireResponse"]]
    stamps += [t["authoredOn"] for t in by_type["Task"]] + [t["lastModified"] for t in by_type["Task"]]
    assert max(parse_fhir_datetime(s) for s in stamps) <= NOW


def test_encounters_follow_fulfilled_appointments(by_type: dict[str, list[dict[str, Any]]]) -> None:
    fulfilled = {f"Appointment/{a['id']}" for a in by_type["Appointment"] if a["status"] == "fulfilled"}
    linked = [e["appointment"][0]["reference"] for e in by_type["Encounter"]]
    assert sorted(linked) == sorted(fulfilled)
    assert all(e["class"]["code"] == "AMB" and e["status"] == "finished" for e in by_type["Encounter"])


# --- no-show drivers ------------------------------------------------------------------------


def test_noshow_rates_follow_the_literature_drivers(by_type: dict[str, list[dict[str, Any]]]) -> None:
    stats = noshow_stats(by_type["Appointment"])
    assert stats.overall.rate is not None and 0.15 <= stats.overall.rate <= 0.25
    short, long_ = stats.by_lead_time["0-2"].rate, stats.by_lead_time[">14"].rate
    assert short is not None and long_ is not None
    assert long_ - short >= 0.10
    assert short < stats.by_lead_time["3-14"].rate < long_  # type: ignore[operator]
    none, some = stats.by_prior_noshow["none"].rate, stats.by_prior_noshow[">=1"].rate
    assert none is not None and some is not None and some - none >= 0.08


# --- engagement ----------------------------------------------------------------------------


def test_reminders_and_replies(by_type: dict[str, list[dict[str, Any]]]) -> None:
    comms = by_type["Communication"]
    reminders = [m for m in comms if "inResponseTo" not in m]
    replies = [m for m in comms if "inResponseTo" in m]
    assert reminders and replies and len(replies) < len(reminders)
    channels = Counter(
        coding["code"]
        for m in comms
        for cc in m["category"]
        for coding in cc["coding"]
        if coding["system"] == c.CHANNEL_SYSTEM
    )
    assert set(channels) == set(c.CHANNELS)
    assert all(m["medium"][0]["coding"][0]["system"] == c.V3_PARTICIPATION_MODE for m in comms)
    appointments = {a["id"]: a for a in by_type["Appointment"]}
    for m in reminders:
        appt = appointments[m["about"][0]["reference"].split("/")[1]]
        assert m["recipient"][0] == m["subject"] and m["basedOn"] == m["about"]
        assert parse_fhir_datetime(m["sent"]) < parse_fhir_datetime(appt["start"])
        assert parse_fhir_datetime(m["sent"]) > parse_fhir_datetime(appt["created"])
        assert "C" in m["payload"][0]["contentString"] or "1" in m["payload"][0]["contentString"]
    reminder_ids = {f"Communication/{m['id']}" for m in reminders}
    assert all(m["sender"] == m["subject"] and m["inResponseTo"][0]["reference"] in reminder_ids for m in replies)


def test_nps_responses(by_type: dict[str, list[dict[str, Any]]]) -> None:
    responses = by_type["QuestionnaireResponse"]
    fulfilled = sum(a["status"] == "fulfilled" for a in by_type["Appointment"])
    assert 0.09 < len(responses) / fulfilled < 0.2
    scores = [r["item"][0]["answer"][0]["valueInteger"] for r in responses]
    assert all(0 <= s <= 10 for s in scores)
    promoters = sum(s >= 9 for s in scores) / len(scores)
    detractors = sum(s <= 6 for s in scores) / len(scores)
    assert 0.15 < promoters - detractors < 0.7  # a plausible clinic NPS
    assert all(r["questionnaire"] == c.NPS_QUESTIONNAIRE_URL for r in responses)


def test_worklist_and_complaint_tasks(by_type: dict[str, list[dict[str, Any]]]) -> None:
    tasks = by_type["Task"]
    kinds = Counter(t["code"]["coding"][0]["code"] for t in tasks)
    assert kinds["complaint"] >= 3 and kinds["callback"] >= 3 and kinds["reschedule"] >= 3
    coordinators = {f"PractitionerRole/{r['id']}" for r in by_type["PractitionerRole"] if "coord" in r["id"]}
    appointments = {f"Appointment/{a['id']}": a for a in by_type["Appointment"]}
    for t in tasks:
        assert t["owner"]["reference"] in coordinators
        assert t["for"]["reference"].startswith("Patient/")
        assert parse_fhir_datetime(t["restriction"]["period"]["end"]) > parse_fhir_datetime(t["authoredOn"])
        kind = t["code"]["coding"][0]["code"]
        if kind == "callback":
            assert appointments[t["focus"]["reference"]]["status"] == "booked"
            assert t["status"] == "requested"
        elif kind == "reschedule":
            assert appointments[t["focus"]["reference"]]["status"] == "noshow"
        else:
            assert t["focus"]["reference"].startswith("Encounter/")
            assert t["status"] in ("requested", "in-progress", "completed")


def test_short_history_window_gets_fewer_past_visits() -> None:
    spec = ClinicSpec(patients=60, days=7, today=TODAY)
    appointments = [r for b in generate_clinic(spec) for r in b if r["resourceType"] == "Appointment"]
    past = [a for a in appointments if parse_fhir_datetime(a["start"]) < NOW]
    assert all(parse_fhir_datetime(a["start"]).date() >= TODAY - dt.timedelta(days=7) for a in past)
    assert len(past) / spec.patients < 1.5
    assert len(build_roster(7, 1000, 0, 21).clinicians) < len(build_roster(7, 1000, 5, 21).clinicians)
