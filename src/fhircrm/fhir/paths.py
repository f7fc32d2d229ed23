"""Where the data files that ship with fhircrm live."""

from __future__ import annotations

from pathlib import Path

DEFINITIONS = Path(__file__).resolve().parent / "definitions"
#: Our own StructureDefinitions, CodeSystems, ValueSets and SearchParameters (a top-level folder of the repo).
PROFILES = Path(__file__).resolve().parents[3] / "profiles"
