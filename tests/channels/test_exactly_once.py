"""Kill the sender mid-batch (SIGKILL while the provider is slow), restart: every message arrives once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter

import pytest
import sqlalchemy as sa
from tests.channels.loopback_twilio import LoopbackTwilio
from tests.channels.support import NOON, REMINDER, TWILIO, drain, patient_body, search, settings_for
from tests.fixtures.stores import TESTS

from fhircrm.channels import queue_message
from fhircrm.channels.tables import channel_delivery
from fhircrm.stores import open_store

MESSAGES = 10


@pytest.mark.slow
async def test_a_sender_killed_mid_batch_delivers_every_message_exactly_once_after_restart(clean_engine, database_url):
    if database_url.startswith("sqlite"):
        pytest.skip("several worker processes and committed sending markers are the PostgreSQL deployment")
    with LoopbackTwilio(delay=0.4) as provider:
        overrides = {**TWILIO, "twilio_api_base": provider.url, "channels_daily_cap": 0}
        settings = settings_for(database_url, **overrides)
        async with clean_engine.begin() as conn:
            store = open_store(conn, settings, policy=TESTS)
            for n in range(MESSAGES):
                patient = (await store.create(patient_body(phone=f"+1555123{n:04d}"))).content
                await queue_message(
                    store,
                    patient=patient["id"],
                    template="appointment-reminder",
                    purpose="appointment-reminders",
                    context=REMINDER,
                    channel="sms",
                    settings=settings,
                    now=NOON,
                )
        env = {**os.environ, "FHIRCRM_DATABASE_URL": database_url, "FHIRCRM_ENVIRONMENT": "test"}
        env.update({f"FHIRCRM_{k.upper()}": str(v) for k, v in overrides.items()})
        env["FHIRCRM_CHANNELS_PUBLIC_URL"] = "https://crm.example.org"
        worker = subprocess.Popen([sys.executable, "-m", "fhircrm.cli", "worker"], env=env)  # noqa: ASYNC220
        try:
            # Kill while a request is in flight: the provider has it, the sender has not recorded it.
            for _ in range(300):
                if len(provider.received) >= 4:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.2)
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
        finally:
            if worker.poll() is None:
                worker.kill()
        assert 0 < len(provider.received) < MESSAGES
        async with clean_engine.begin() as conn:
            states = dict(
                (
                    await conn.execute(
                        sa.select(channel_delivery.c.state, sa.func.count()).group_by(channel_delivery.c.state)
                    )
                ).all()
            )
        assert states.get("sending") == 1  # the provider took it; the sender died before recording it
        await drain(clean_engine, settings)  # the restarted sender

        deliveries = Counter((m["to"], m["body"]) for m in provider.received)
        assert len(deliveries) == MESSAGES
        assert set(deliveries.values()) == {1}
        comms = await search(clean_engine, settings, "Communication", [])
        assert [c["status"] for c in comms] == ["in-progress"] * MESSAGES
