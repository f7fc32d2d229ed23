"""The content catalog (content/catalog.yaml) and rendering a piece in the patient's language."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from fhircrm.channels.templates import Rendered, render

CONTENT_DIR = Path(__file__).parent / "content"


@dataclass(frozen=True, slots=True)
class Content:
    topic: str
    stage: str  # chronic-care | preparation | after-visit | prevention
    conditions: tuple[str, ...] = ()
    services: tuple[str, ...] = ()


@cache
def catalog() -> dict[str, Content]:
    data = yaml.safe_load((CONTENT_DIR / "catalog.yaml").read_text())
    return {
        topic: Content(topic, spec["stage"], tuple(spec.get("conditions", ())), tuple(spec.get("services", ())))
        for topic, spec in data.items()
    }


def for_condition(code: str) -> list[Content]:
    return [c for c in catalog().values() if code in c.conditions]


def for_service(text: str) -> list[Content]:
    """Preparation content for an appointment whose service type reads like ``text``."""
    words = text.lower()
    return [c for c in catalog().values() if any(s in words for s in c.services)]


def render_content(topic: str, context: dict, *, language: str, plain: bool, default_language: str = "en") -> Rendered:
    return render(
        topic, context, language=language, plain=plain, default_language=default_language, directory=CONTENT_DIR
    )
