"""FHIR messaging: ``$process-message`` for the EHR's event messages (ADT, scheduling, orders, results)."""
