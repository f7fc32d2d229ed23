"""Load journey YAML files into the FHIR store as PlanDefinitions (``fhircrm journeys load``)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fhircrm.fhir.store import FhirStore
from fhircrm.journeys.definitions import parse_journey
from fhircrm.journeys.plandefinition import to_plan_definition


def default_journey_files() -> list[Path]:
    folder = resources.files("fhircrm.journeys").joinpath("defaults")
    return sorted(Path(str(folder)).glob("*.yaml"))


async def load_journeys(store: FhirStore, paths: list[Path] | None = None) -> list[str]:
    """Compile each file and store it (PUT by id: loading again updates); returns the journey ids."""
    loaded = []
    texts = [Path(path).read_text() for path in paths or default_journey_files()]  # noqa: ASYNC240 - small local files
    for text in texts:
        journey = parse_journey(text)
        plan = to_plan_definition(journey)
        await store.update("PlanDefinition", plan["id"], plan)
        loaded.append(journey.id)
    return loaded
