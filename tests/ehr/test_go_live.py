"""The go-live path end to end, from a fresh database, with SEKMET as the EHR: ``fhircrm subscriptions register``
as IT types it, a booking in the EHR gets its confirmation and reminder timers within 2 s (the shipped journeys
are in place from the first start, no ``journeys load``), the patient's "C" reply is visible in the EHR."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from tests.fixtures.cli import cli_env, run_fhircrm
from tests.fixtures.sekmet import NOTIFICATION_SECRET, Stack, book_in_ehr, wait_for
from tests.fixtures.stores import TESTS

from fhircrm.channels.inbound import InboundMessage, receive
from fhircrm.stores import open_store
from fhircrm.subscriptions import registration
from fhircrm.timers.resources import timer_key

pytestmark = pytest.mark.slow
DEADLINE = 2.0  # the promise: EHR booking to planned timers


async def test_register_book_confirm_from_a_fresh_database(stack: Stack, tmp_path: Path) -> None:
    env = cli_env(
        database_url=stack.crm.database_url,
        base_url=stack.crm.base_url,
        ehr_base_url=stack.ehr.base_url,
        ehr_notification_secret=NOTIFICATION_SECRET,
    )
    registered = run_fhircrm("subscriptions", "register", env=env, cwd=tmp_path)
    assert registered.returncode == 0, registered.stdout + registered.stderr
    assert "8 registered, 0 failed" in registered.stdout

    async def all_active() -> bool:
        return {r.status for r in await registration.list_ours(stack.ehr_client(), stack.settings)} == {"active"}

    await wait_for(all_active, within=15, interval=0.2)  # the handshakes reached fhircrm's listener

    phone = "+1555" + str(uuid.uuid4().int)[:7]
    _, appointment = await book_in_ehr(stack.ehr, family="Live", phone=phone)

    async def timers() -> set[str]:
        async with stack.engine.connect() as conn:
            found = await open_store(conn, stack.settings, policy=TESTS).search(
                "CommunicationRequest", [("based-on", f"Appointment/{appointment['id']}"), ("_count", "50")]
            )
        return {(timer_key(r) or "").split(":")[1] for r in found.matches if r["status"] == "active"}

    async def planned() -> bool:
        return {"confirm", "remind"} <= await timers()

    await wait_for(planned, within=DEADLINE, interval=0.05)

    async with stack.engine.begin() as conn:
        message = InboundMessage("sms", "twilio", f"SM{uuid.uuid4().hex}", phone, "C")
        await receive(open_store(conn, stack.settings, policy=TESTS), stack.settings, message)

    async def accepted_in_the_ehr() -> bool:
        async with httpx.AsyncClient(timeout=10) as http:
            theirs = (await http.get(f"{stack.ehr.base_url}/Appointment/{appointment['id']}")).json()
        return theirs["participant"][0]["status"] == "accepted"

    await wait_for(accepted_in_the_ehr, within=10, interval=0.1)

    async def only_the_reminder_left() -> bool:  # the confirmation message is no longer needed
        return await timers() == {"remind"}

    await wait_for(only_the_reminder_left, within=10, interval=0.1)
