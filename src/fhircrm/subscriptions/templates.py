"""The Subscriptions fhircrm asks of an EHR, from the JSON templates in the repository's ``subscriptions/``.

``criteria/`` holds R4 criteria-based Subscriptions, ``topic-based/`` backport ones, ``topics/`` the
SubscriptionTopics they name (R4 ``Basic`` with the cross-version extensions, as HAPI and the backport IG's
reference servers read them). Each Subscription template carries ``_fhircrm`` (our name for it and the resource
type it watches, removed before sending) and the placeholders ``${endpoint}`` and ``${secret_header}``.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from fhircrm.config import Settings
from fhircrm.subscriptions.hook_secrets import header_for

KINDS = ("criteria", "topic-based")
REPO_TEMPLATES = Path(__file__).resolve().parents[3] / "subscriptions"


@dataclass(frozen=True, slots=True)
class Template:
    name: str  # e.g. topic-appointment-booked: also the last segment of its endpoint
    kind: str  # criteria | topic-based
    resource_type: str
    body: dict


def templates_dir(settings: Settings) -> Path:
    return settings.ehr_subscriptions_dir or REPO_TEMPLATES


@cache
def _load(folder: Path) -> tuple[tuple[Template, ...], tuple[dict, ...]]:
    templates = []
    for kind in KINDS:
        for path in sorted((folder / kind).glob("*.json")):
            body = json.loads(path.read_text())
            meta = body.pop("_fhircrm")
            templates.append(Template(meta["name"], kind, meta["resourceType"], body))
    topics = tuple(json.loads(p.read_text()) for p in sorted((folder / "topics").glob("*.json")))
    return tuple(templates), topics


def templates(settings: Settings, kind: str | None = None) -> list[Template]:
    return [t for t in _load(templates_dir(settings))[0] if kind in (None, t.kind)]


def topics(settings: Settings) -> list[dict]:
    return [copy.deepcopy(t) for t in _load(templates_dir(settings))[1]]


def by_name(settings: Settings, name: str) -> Template | None:
    return next((t for t in templates(settings) if t.name == name), None)


def listener_root(settings: Settings) -> str:
    if settings.ehr_public_url:
        return settings.ehr_public_url.rstrip("/")
    base = settings.base_url.rstrip("/")
    return base[: -len("/fhir")] if base.endswith("/fhir") else base


def endpoint_for(settings: Settings, name: str) -> str:
    return f"{listener_root(settings)}/ehr/notifications/{name}"


def render(settings: Settings, template: Template) -> dict:
    text = json.dumps(template.body)
    text = text.replace("${endpoint}", endpoint_for(settings, template.name))
    text = text.replace("${secret_header}", header_for(settings, template.name))
    return json.loads(text)
