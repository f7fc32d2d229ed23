"""Durable background work: an outbox of jobs in the database, claimed by workers with ``FOR UPDATE SKIP LOCKED``.

Anything that must happen after a transaction commits (deliver a message, notify a subscriber, process an EHR
notification, write back to the EHR) is enqueued *inside* that transaction: a rollback discards it for free, a
commit makes it durable. Workers only deliver.
"""

from fhircrm.jobs.queue import Job, enqueue
from fhircrm.jobs.registry import Handler, JobKind, JobRegistry

__all__ = ["Handler", "Job", "JobKind", "JobRegistry", "enqueue"]
