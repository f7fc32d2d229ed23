"""Indicators computed from the FHIR data, in the database where possible, as JSON for the dashboard and as
MeasureReports. Definitions (numerator, denominator, exclusions): docs/indicators.md; the appointment measures
are ``measures.MEASURES``, the registry ``compute.INDICATORS``.

Import the modules themselves: this package imports nothing, so no module of it imports its own package back.
"""
