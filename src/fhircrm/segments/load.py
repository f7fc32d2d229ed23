"""Load segment definitions (YAML/JSON files, one definition or a list) into Groups."""

from __future__ import annotations

from pathlib import Path

import yaml

from fhircrm.fhir.store import FhirStore
from fhircrm.segments.groups import save_definition
from fhircrm.segments.rules import RuleError, SegmentRule, parse_rule

DEFAULTS = Path(__file__).parent / "defaults"


def read_definitions(paths: list[Path] | None = None) -> list[SegmentRule]:
    files = paths or sorted(DEFAULTS.glob("*.yaml"))
    rules: list[SegmentRule] = []
    for path in files:
        data = yaml.safe_load(path.read_text())
        for item in data if isinstance(data, list) else [data]:
            try:
                rules.append(parse_rule(item))
            except RuleError as exc:
                raise RuleError(f"{path.name}: {exc}") from exc
    return rules


async def load_segments(store: FhirStore, paths: list[Path] | None = None) -> list[str]:
    rules = read_definitions(paths)
    for rule in rules:
        await save_definition(store, rule)
    return [r.id for r in rules]
