"""The FHIR R4 core: storage, search, REST API. Everything else in fhircrm writes through it."""
