"""Web forms (appointment requests, contact forms) posted by the clinic's site with our shared secret."""

from __future__ import annotations

from tests.channels.conftest import SECRET
from tests.channels.support import create, patient_body, search

FORM = {"name": "Ana", "email": "ana@example.org", "message": "Please call me about my bill", "submission_id": "f-9"}


async def _post(web, kind: str, form: dict, secret: str | None = SECRET):
    headers = {"X-Fhircrm-Secret": secret} if secret else {}
    return await web.post(f"/channels/forms/{kind}", json=form, headers=headers)


async def test_a_contact_form_from_a_known_patient_lands_in_their_thread(web, clean_engine, channel_settings):
    patient = await create(clean_engine, channel_settings, patient_body(phone=None, email="ana@example.org"))
    assert (await _post(web, "contact", FORM)).json()["received"] is True
    [thread] = (await web.get("/api/inbox/threads")).json()["threads"]
    assert (thread["patient"], thread["channel"], thread["reason"]) == (
        f"Patient/{patient['id']}",
        "webform",
        "general",
    )


async def test_an_appointment_request_from_a_known_patient_gets_the_appointment_reason(
    web, clean_engine, channel_settings
):
    await create(clean_engine, channel_settings, patient_body(phone=None, email="ana@example.org"))
    await _post(web, "appointment-request", {**FORM, "preferred_time": "Tuesday morning"})
    [thread] = (await web.get("/api/inbox/threads")).json()["threads"]
    detail = (await web.get(f"/api/inbox/threads/{thread['id']}")).json()
    assert thread["reason"] == "appointment"
    assert "Preferred time: Tuesday morning" in detail["messages"][0]["text"]


async def test_a_resubmitted_form_is_taken_in_once(web, clean_engine, channel_settings):
    assert [(await _post(web, "contact", FORM)).json()["received"] for _ in range(2)] == [True, False]
    assert len(await search(clean_engine, channel_settings, "Communication", [])) == 1


async def test_a_form_without_or_with_a_wrong_secret_is_refused_and_nothing_stored(web, clean_engine, channel_settings):
    missing, wrong = await _post(web, "contact", FORM, secret=None), await _post(web, "contact", FORM, secret="guess")
    assert (missing.status_code, wrong.status_code) == (401, 403)
    assert await search(clean_engine, channel_settings, "Communication", []) == []


async def test_an_unknown_form_kind_is_refused(web, clean_engine, channel_settings):
    assert (await _post(web, "newsletter", FORM)).status_code == 400
    assert await search(clean_engine, channel_settings, "Communication", []) == []
