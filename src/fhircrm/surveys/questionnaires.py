"""The shipped Questionnaires (package data) and looking a Questionnaire up by canonical URL."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from urllib.parse import urlencode

from fhircrm.fhir.store import FhirStore

DIRECTORY = Path(__file__).parent / "questionnaires"


@cache
def shipped() -> dict[str, dict]:
    out = {}
    for path in sorted(DIRECTORY.glob("Questionnaire-*.json")):
        body = json.loads(path.read_text())
        out[body["url"]] = body
    return out


async def questionnaire(store: FhirStore, url: str) -> dict | None:
    """The Questionnaire with canonical ``url``: from the store, else the shipped one (written on first use)."""
    found = (await store.search("Questionnaire", [("url", url), ("_count", "1")])).matches
    if found:
        return found[0]
    body = shipped().get(url)
    if body is None:
        return None
    return (
        await store.create({k: v for k, v in body.items() if k != "id"}, if_none_exist=urlencode({"url": url}))
    ).content


def rating_item(q: dict) -> tuple[str, int, int] | None:
    """(linkId, min, max) of the score item, for SMS replies."""
    for item in q.get("item", []):
        if item.get("type") == "integer":
            bounds = {e["url"].rsplit("/", 1)[-1]: e.get("valueInteger") for e in item.get("extension", [])}
            return item["linkId"], bounds.get("minValue", 0), bounds.get("maxValue", 10)
    return None
