"""Wire the waitlist into the worker: the sweep dispatches hold expiries (offers come from the recovery
journey's offer-waitlist step); a patient's yes to an offer (MessageReceived) books the slot."""

from __future__ import annotations

from fhircrm.clock import current_time
from fhircrm.events import DomainEvent, EventName
from fhircrm.fhir.store import FhirStore
from fhircrm.runtime import Runtime
from fhircrm.waitlist.offers import HOLD_EXPIRY, hold_expiry_dispatcher
from fhircrm.waitlist.replies import accept_from_reply
from fhircrm.wiring import Wiring, about_subject


def install(wiring: Wiring, runtime: Runtime) -> None:
    settings = runtime.settings
    wiring.timers.register(HOLD_EXPIRY, hold_expiry_dispatcher(settings))

    async def on_reply(store: FhirStore, reply: dict, _event: DomainEvent) -> None:
        await accept_from_reply(store, reply, now=current_time(settings))

    wiring.consumers.subscribe(EventName.MESSAGE_RECEIVED, about_subject(settings, "waitlist", on_reply))
