"""The SubscriptionTopics in the store, and the shipped ones kept in place.

Kept in memory per database until a Basic changes, as the journey library does with PlanDefinitions: every
lookup first reads the store's version stamp of Basic (one indexed aggregate), so a topic POSTed on one node is
usable by a Subscription on every node at once, with no in-process registry. The shipped topics
(``shipped_topics/*.json``) are installed by ``fhircrm migrate`` and at start-up with their content hash in
``meta.tag``: an operator's edit (or delete) is kept.
"""

from __future__ import annotations

import json
import logging
from importlib import resources
from pathlib import Path

from fhircrm.errors import FhircrmError
from fhircrm.fhir import shipped
from fhircrm.fhir.stamped import StampedCache
from fhircrm.fhir.store import FhirStore
from fhircrm.subscriptions.topic_definitions import TOPIC_CODE, TopicDefinition, parse

log = logging.getLogger(__name__)
SHIPPED_TAG_SYSTEM = "http://fhircrm.org/CodeSystem/shipped-topic"


class TopicLibrary:
    def __init__(self) -> None:
        self._topics = StampedCache("Basic", load_topics)

    async def by_url(self, store: FhirStore) -> dict[str, TopicDefinition]:
        return await self._topics.get(store)

    async def get(self, store: FhirStore, url: str) -> TopicDefinition | None:
        return (await self.by_url(store)).get(url)


async def load_topics(store: FhirStore) -> dict[str, TopicDefinition]:
    topics = {}
    for current in sorted(await store.match_all("Basic", TOPIC_CODE), key=lambda c: c.fhir_id):
        try:
            topic = parse(current.content or {})
        except FhircrmError as exc:
            log.warning("Basic/%s is not a usable SubscriptionTopic: %s", current.fhir_id, exc)
            continue
        topics.setdefault(topic.url, topic)
    return topics


#: The process-wide library matching uses.
LIBRARY = TopicLibrary()


def shipped_topics() -> list[dict]:
    folder = Path(str(resources.files("fhircrm.subscriptions").joinpath("shipped_topics")))
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


async def install_shipped(store: FhirStore) -> dict[str, str]:
    """Create the shipped topics that are missing, update those fhircrm wrote and nobody edited since."""
    return await shipped.install(store, "Basic", shipped_topics(), SHIPPED_TAG_SYSTEM)
