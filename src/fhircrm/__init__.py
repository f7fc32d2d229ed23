"""fhircrm: a FHIR-native patient engagement server that extends an EHR."""

__version__ = "0.1.0"
