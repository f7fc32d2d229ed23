"""The EHR connector: fhircrm beside the EHR's FHIR server.

``client`` talks FHIR to the EHR (fhirpy, behind the small ``EhrClient`` protocol) with auth, timeouts, retries
and a circuit breaker; ``mirror`` keeps local copies of what engagement needs, under the EHR's own ids;
``polling`` is the fallback for EHRs without subscriptions; ``writeback`` copies CRM resources to the EHR.
"""
