"""Load journey YAML files into the FHIR store as PlanDefinitions (``fhircrm journeys load``), and keep the
shipped ones in place (``install_defaults``, run by ``fhircrm migrate`` and at start-up through
``fhircrm.shipped_content``)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fhircrm.fhir import shipped
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


#: meta.tag on a shipped journey: its code is the hash of the content fhircrm wrote (``fhircrm.fhir.shipped``).
DEFAULT_TAG_SYSTEM = "http://fhircrm.org/CodeSystem/shipped-journey"


async def install_defaults(store: FhirStore) -> dict[str, str]:
    """Create the shipped journeys that are missing and update the ones fhircrm wrote and nobody edited since.

    Returns ``{journey id: created | updated | current | kept}`` (kept: edited or deleted by an operator).
    Running it again changes nothing.
    """
    plans = [to_plan_definition(parse_journey(path.read_text())) for path in default_journey_files()]
    return await shipped.install(store, "PlanDefinition", plans, DEFAULT_TAG_SYSTEM)
