"""Deterministic synthetic demo clinic (FHIR R4 JSON) and no-show analytics helpers.

Conventions of the generated data, for code that reads it back:

* ids are ``demo-<kind>-...`` (e.g. ``demo-pat-000123``, ``demo-appt-000123-04``) and every
  resource carries ``meta.tag`` ``http://fhircrm.org/CodeSystem/data-origin|demo``;
* the preferred channel is the ``http://fhircrm.org/StructureDefinition/preferred-channel``
  extension (valueCode sms|whatsapp|email|voice) on Patient;
* opt-outs are nested ``deny`` provisions of the patient's Consent: ``purpose`` with
  ``http://fhircrm.org/CodeSystem/contact-purpose`` (marketing|survey) or ``code`` with
  ``http://fhircrm.org/CodeSystem/channel`` (a channel denied for every purpose);
* Communications carry the channel in ``category`` (fhircrm channel system) and the closest
  R4 ``v3-ParticipationMode`` in ``medium``; reminders reference the Appointment in both
  ``basedOn`` (searchable as ``based-on``) and ``about``; replies use ``inResponseTo``;
* Tasks use ``http://fhircrm.org/CodeSystem/task-type`` (complaint|callback|reschedule) and
  ``task-business-status``, are owned by a coordinator PractitionerRole and due at
  ``restriction.period.end``.
"""

from fhircrm.demo.generator import ClinicSpec, generate_clinic, iter_resources, to_transaction_bundle
from fhircrm.demo.stats import NoShowStats, RateCell, noshow_stats

__all__ = [
    "ClinicSpec",
    "NoShowStats",
    "RateCell",
    "generate_clinic",
    "iter_resources",
    "noshow_stats",
    "to_transaction_bundle",
]
