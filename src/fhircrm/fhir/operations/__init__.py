"""FHIR $operations: one module each, a thin route over a plain function."""
