"""The EHR connector's worker wiring: the write-back job kind, the polling fallback and the write-back sweep."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from fhircrm.ehr.appointment_replies import APPOINTMENT_REPLY_JOB, queue_reply, write_reply
from fhircrm.ehr.appointment_replies import EVENTS as REPLY_EVENTS
from fhircrm.ehr.client import FhirpyEhrClient, build_client
from fhircrm.ehr.polling import poll_all
from fhircrm.ehr.writeback import WRITEBACK_JOB, sweep, write_back
from fhircrm.runtime import Runtime
from fhircrm.wiring import Wiring

_CLIENTS: dict[int, tuple[Runtime, FhirpyEhrClient]] = {}


def ehr_client(runtime: Runtime) -> FhirpyEhrClient:
    """The one EHR client of this runtime (its circuit breaker sees every call of the process)."""
    found = _CLIENTS.get(id(runtime))
    if found is None or found[0] is not runtime:
        found = (runtime, build_client(runtime.settings, runtime.http))
        _CLIENTS[id(runtime)] = found
    return found[1]


def install(wiring: Wiring, runtime: Runtime) -> None:
    settings = runtime.settings
    if not settings.ehr_base_url:
        return

    async def write_back_job(conn: AsyncConnection, job: object) -> None:
        await write_back(conn, job, client=ehr_client(runtime), settings=settings)  # type: ignore[arg-type]

    wiring.jobs.register(WRITEBACK_JOB, write_back_job, max_attempts=10)
    if settings.ehr_writeback_appointment_replies:

        async def reply_job(conn: AsyncConnection, job: object) -> None:
            await write_reply(conn, job, client=ehr_client(runtime), settings=settings)  # type: ignore[arg-type]

        wiring.jobs.register(APPOINTMENT_REPLY_JOB, reply_job, max_attempts=10)
        for name in REPLY_EVENTS:
            wiring.consumers.subscribe(name, queue_reply)
    if settings.ehr_writeback_types:
        wiring.every("ehr-writeback-sweep", settings.ehr_writeback_seconds, lambda c: sweep(c, settings))
    if settings.ehr_poll_seconds > 0:

        async def poll(conn: AsyncConnection) -> None:
            await poll_all(conn, ehr_client(runtime), settings)

        wiring.every("ehr-poll", settings.ehr_poll_seconds, poll)
