"""Omnichannel messaging: queue a message (``queue_message``), deliver it exactly once through a provider
adapter, take replies in through signed webhooks. Every message in or out is a FHIR Communication."""

from fhircrm.channels.outbound import DELIVER_JOB, TemplateError, queue_message

__all__ = ["DELIVER_JOB", "TemplateError", "queue_message"]
