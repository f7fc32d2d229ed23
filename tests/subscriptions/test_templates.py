"""The Subscription templates are what a strict EHR accepts: criteria as search URLs (HAPI refuses a bare type)."""

from __future__ import annotations

import re

from fhircrm.config import Settings
from fhircrm.subscriptions import templates as tpl
from fhircrm.subscriptions.registration import advertises_topics

SEARCH_URL = re.compile(r"^[A-Z][A-Za-z]+\?")


def test_every_criteria_template_is_a_search_url() -> None:
    criteria = [t.body["criteria"] for t in tpl.templates(Settings(environment="test"), "criteria")]
    assert len(criteria) == 8
    assert [c for c in criteria if not SEARCH_URL.match(c)] == []


def test_topic_support_is_read_from_the_capability_statement() -> None:
    backport = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription"
    plain_r4 = {"rest": [{"resource": [{"type": "Subscription"}, {"type": "Patient"}]}]}
    assert not advertises_topics(plain_r4)
    assert advertises_topics({"rest": [{"resource": [{"type": "Subscription", "supportedProfile": [backport]}]}]})
    assert advertises_topics({"rest": [{"resource": [{"type": "SubscriptionTopic"}]}]})
