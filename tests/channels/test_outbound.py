"""queue_message: what is written, when it is refused, and that the local channel delivers it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.channels.support import NOON, REMINDER, create, drain, patient_body, read, search, settings_for
from tests.fixtures.stores import TESTS

from fhircrm.channels import TemplateError, queue_message
from fhircrm.jobs.queue import counts
from fhircrm.stores import open_store


async def _queue(engine: AsyncEngine, settings, patient: dict, **kwargs) -> dict:
    args = {"template": "appointment-reminder", "purpose": "appointment-reminders", "context": REMINDER, "now": NOON}
    async with engine.begin() as conn:
        return await queue_message(
            open_store(conn, settings, policy=TESTS),
            patient=f"Patient/{patient['id']}",
            settings=settings,
            **{**args, **kwargs},
        )


async def test_a_queued_message_is_a_preparation_communication_with_one_delivery_job(clean_engine, database_url):
    settings = settings_for(database_url)
    patient = await create(clean_engine, settings, patient_body())
    comm = await _queue(clean_engine, settings, patient, based_on=["Appointment/a1"], topic="appointment:a1")
    assert comm["status"] == "preparation"
    assert comm["recipient"] == [{"reference": f"Patient/{patient['id']}"}]
    assert comm["basedOn"] == [{"reference": "Appointment/a1"}]
    assert comm["category"][0]["coding"][0]["code"] == "sms"
    assert "Reply C to confirm" in comm["payload"][0]["contentString"]
    async with clean_engine.begin() as conn:
        assert (await counts(conn))[("channel-deliver", "pending")] == 1


async def test_the_local_channel_delivers_when_no_provider_is_configured(clean_engine, database_url):
    settings = settings_for(database_url)
    patient = await create(clean_engine, settings, patient_body())
    comm = await _queue(clean_engine, settings, patient)
    await drain(clean_engine, settings)
    delivered = await read(clean_engine, settings, "Communication", comm["id"])
    assert delivered["status"] == "completed"
    assert delivered["sent"]
    provider = [e for e in delivered["extension"] if e["url"].endswith("delivery-provider")]
    assert provider[0]["valueCode"] == "local"


async def test_a_repeated_dedupe_key_returns_the_existing_communication(clean_engine, database_url):
    settings = settings_for(database_url)
    patient = await create(clean_engine, settings, patient_body())
    first = await _queue(clean_engine, settings, patient, dedupe_key="reminder:a1:48h")
    second = await _queue(clean_engine, settings, patient, dedupe_key="reminder:a1:48h")
    assert first["id"] == second["id"]
    assert len(await search(clean_engine, settings, "Communication", [])) == 1


async def test_a_missing_template_variable_fails_loudly_and_writes_nothing(clean_engine, database_url):
    settings = settings_for(database_url)
    patient = await create(clean_engine, settings, patient_body())
    context = {k: v for k, v in REMINDER.items() if k != "appointment_time"}
    with pytest.raises(TemplateError, match="appointment_time"):
        await _queue(clean_engine, settings, patient, context=context)
    assert await search(clean_engine, settings, "Communication", []) == []


async def test_the_message_is_rendered_in_the_patients_language(clean_engine, database_url):
    settings = settings_for(database_url)
    patient = await create(clean_engine, settings, patient_body(lang="es"))
    comm = await _queue(clean_engine, settings, patient)
    assert comm["language"] == "es"
    assert comm["payload"][0]["contentString"].startswith("Hola Ana")


async def test_the_plain_language_version_is_used_when_asked_for(clean_engine, database_url):
    settings = settings_for(database_url)
    patient = await create(clean_engine, settings, patient_body())
    comm = await _queue(clean_engine, settings, patient, plain_language=True)
    assert "Send C for yes" in comm["payload"][0]["contentString"]


async def test_email_carries_a_subject_and_an_html_part(clean_engine, database_url):
    settings = settings_for(database_url)
    patient = await create(clean_engine, settings, patient_body(email="ana@example.org", preferred="email"))
    comm = await _queue(clean_engine, settings, patient)
    assert comm["category"][0]["coding"][0]["code"] == "email"
    assert comm["payload"][1]["contentAttachment"]["contentType"].startswith("text/html")


async def test_without_a_channel_the_preferred_consented_one_is_chosen(clean_engine, database_url):
    settings = settings_for(database_url)
    patient = await create(clean_engine, settings, patient_body(email="ana@example.org", preferred="email"))
    await create(clean_engine, settings, _consent(patient["id"], deny_channel="email"))
    comm = await _queue(clean_engine, settings, patient)
    assert comm["status"] == "preparation"
    assert comm["category"][0]["coding"][0]["code"] == "sms"


async def test_an_opted_out_patient_gets_nothing_on_that_channel(clean_engine, database_url):
    settings = settings_for(database_url)
    patient = await create(clean_engine, settings, patient_body())
    await create(clean_engine, settings, _consent(patient["id"], deny_channel="sms"))
    comm = await _queue(clean_engine, settings, patient, channel="sms")
    assert comm["status"] == "not-done"
    assert comm["statusReason"]["coding"][0]["code"] == "opted-out"
    async with clean_engine.begin() as conn:
        assert ("channel-deliver", "pending") not in await counts(conn)


async def test_marketing_without_an_explicit_permit_is_refused_for_consent(clean_engine, database_url):
    settings = settings_for(database_url)
    patient = await create(clean_engine, settings, patient_body())
    comm = await _queue(clean_engine, settings, patient, purpose="marketing")
    assert comm["statusReason"]["coding"][0]["code"] == "consent"


async def test_a_refused_purpose_blocks_the_send(clean_engine, database_url):
    settings = settings_for(database_url)
    patient = await create(clean_engine, settings, patient_body())
    await create(clean_engine, settings, _consent(patient["id"], deny_purpose="survey"))
    comm = await _queue(clean_engine, settings, patient, purpose="survey")
    assert (comm["status"], comm["statusReason"]["coding"][0]["code"]) == ("not-done", "consent")


async def test_a_send_in_quiet_hours_is_scheduled_for_the_next_morning_in_the_patients_zone(clean_engine, database_url):
    settings = settings_for(database_url)
    body = patient_body()
    body["extension"] = [{"url": "http://hl7.org/fhir/StructureDefinition/tz-code", "valueCode": "Europe/Lisbon"}]
    patient = await create(clean_engine, settings, body)
    late = datetime(2030, 3, 14, 23, 30, tzinfo=UTC)  # 23:30 in Lisbon (WET in March)
    comm = await _queue(clean_engine, settings, patient, now=late)
    assert comm["status"] == "preparation"
    not_before = next(e for e in comm["extension"] if e["url"].endswith("not-before"))["valueDateTime"]
    assert not_before == "2030-03-15T08:00:00.000Z"
    assert await drain(clean_engine, settings) == 0  # not due yet


async def test_the_frequency_cap_refuses_one_message_too_many(clean_engine, database_url):
    settings = settings_for(database_url, channels_daily_cap=2)
    patient = await create(clean_engine, settings, patient_body())
    statuses = [(await _queue(clean_engine, settings, patient))["status"] for _ in range(3)]
    assert statuses == ["preparation", "preparation", "not-done"]


async def test_a_patient_without_an_address_for_the_channel_is_recorded_as_not_done(clean_engine, database_url):
    settings = settings_for(database_url)
    patient = await create(clean_engine, settings, patient_body())
    comm = await _queue(clean_engine, settings, patient, channel="email")
    assert comm["statusReason"]["coding"][0]["code"] == "no-address"


async def test_a_stop_that_arrives_after_queueing_wins_over_the_queued_message(clean_engine, database_url):
    settings = settings_for(database_url)
    patient = await create(clean_engine, settings, patient_body())
    comm = await _queue(clean_engine, settings, patient, channel="sms")
    await create(clean_engine, settings, _consent(patient["id"], deny_channel="sms"))
    await drain(clean_engine, settings)
    after = await read(clean_engine, settings, "Communication", comm["id"])
    assert (after["status"], after["statusReason"]["coding"][0]["code"]) == ("not-done", "opted-out")


def _consent(patient_id: str, *, deny_channel: str | None = None, deny_purpose: str | None = None) -> dict:
    nested = []
    if deny_channel:
        nested.append(
            {
                "type": "deny",
                "code": [{"coding": [{"system": "http://fhircrm.org/CodeSystem/channel", "code": deny_channel}]}],
            }
        )
    if deny_purpose:
        nested.append(
            {
                "type": "deny",
                "purpose": [{"system": "http://fhircrm.org/CodeSystem/contact-purpose", "code": deny_purpose}],
            }
        )
    return {
        "resourceType": "Consent",
        "status": "active",
        "scope": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": f"Patient/{patient_id}"},
        "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}]},
        "provision": {"type": "permit", "provision": nested},
    }
