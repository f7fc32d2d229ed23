"""Populations: segments are FHIR Groups whose membership is computed from rules that are data (YAML/JSON).

A rule is a list of FHIR searches (``all`` must match, ``none`` must not), so hospital IT adds a segment by
POSTing a definition, without a deploy. Membership is refreshed on a schedule and when a patient's data changes;
members who leave stay in the Group as ``inactive`` with the end of their period (the membership history).
"""

from fhircrm.segments.lookup import is_member, members, segments_of
from fhircrm.segments.rules import RuleError, SegmentRule, parse_rule

__all__ = ["RuleError", "SegmentRule", "is_member", "members", "parse_rule", "segments_of"]
