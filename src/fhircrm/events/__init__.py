"""Domain events: what happened, in the clinic's words (AppointmentBooked, MessageReceived ...).

They are derived from resource changes at write time (``derive``), whatever wrote the resource (the EHR mirror,
the API, a journey), and travel through the job outbox (``emit``), so a consumer sees each event once after its
cause commits, and never sees an event whose cause rolled back.
"""

from fhircrm.events.bus import EVENT_JOB, EventConsumers, emit
from fhircrm.events.derive import derive
from fhircrm.events.model import DomainEvent, EventName

__all__ = ["EVENT_JOB", "DomainEvent", "EventConsumers", "EventName", "derive", "emit"]
