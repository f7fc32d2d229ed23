"""Indicators computed from the FHIR data, in the database where possible (``_summary=count`` searches), as
JSON for the dashboard and as MeasureReports. Definitions (numerator, denominator, exclusions): docs/indicators.md.
"""

from fhircrm.indicators.compute import INDICATORS, compute, compute_all
from fhircrm.indicators.slices import Slice

__all__ = ["INDICATORS", "Slice", "compute", "compute_all"]
