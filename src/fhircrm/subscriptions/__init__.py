"""Subscriptions, both ways.

Listening: the EHR notifies ``/ehr/notifications/{name}``; each notification is stored (a job) before the 200,
then processed from that record: focus fetched when only an id came, events ordered, gaps filled, duplicates
dropped, resources mirrored (which derives the domain events). Publishing: Subscriptions that hospital IT
POSTs to our ``/fhir`` are matched at write time (``publisher``) and delivered from the durable outbox
(``delivery``), with retries, dead letters, ``$status``, ``$events`` and ``$replay``.
"""
