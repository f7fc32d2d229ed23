"""Compile the official FHIR R4 (4.0.1) StructureDefinitions into the compact table the validator reads
(``src/fhircrm/fhir/definitions/r4-elements.json``). Run at development time only, never at run time.

The source is the HL7 npm package ``hl7.fhir.r4.examples@4.0.1`` (CC0): it carries the same StructureDefinitions,
ValueSets and CodeSystems as ``hl7.fhir.r4.core@4.0.1`` (same build, 9346c8cc45), which the npm registry does not
serve. Usage::

    python3 scripts/compile_r4_definitions.py            # npm pack into a temporary directory
    python3 scripts/compile_r4_definitions.py DIR        # an unpacked package (DIR/package/*.json or DIR/*.json)

What is kept, per element: its JSON key (choices expanded, ``value[x]`` -> ``valueString`` ...), min and max
cardinality, type, the node of its children (backbone elements, datatypes, content references), the value set of
a required binding expanded to its codes (when the package holds every code system it draws on), the resource
types a Reference may point at (its ``targetProfile``, every one a base resource in R4; null when it may point at
any: no target profile, or ``Resource``), the summary flag, and the FHIRPath invariants (severity error) of
resources and their backbone elements.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "src" / "fhircrm" / "fhir" / "definitions" / "r4-elements.json"
PACKAGE = "hl7.fhir.r4.examples@4.0.1"
FHIR_TYPE = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
BASE = "http://hl7.org/fhir/StructureDefinition/"
REGEX = "http://hl7.org/fhir/StructureDefinition/regex"
#: JSON type of each primitive's value (R4 JSON format): everything else is a string
JSON_TYPES = {
    "boolean": "boolean",
    "integer": "integer",
    "positiveInt": "integer",
    "unsignedInt": "integer",
    "decimal": "decimal",
}
#: invariants every element or extension carries: checked structurally (empty objects, url present) instead
STRUCTURAL = frozenset({"ele-1", "ext-1"})


def _package_dir(argument: str | None) -> Path:
    if argument:
        path = Path(argument)
        return path / "package" if (path / "package").is_dir() else path
    work = Path(tempfile.mkdtemp(prefix="r4-definitions-"))
    subprocess.run(["npm", "pack", PACKAGE], cwd=work, check=True, capture_output=True)
    with tarfile.open(next(work.glob("*.tgz"))) as archive:
        archive.extractall(work, filter="data")
    return work / "package"


def _load(directory: Path) -> tuple[list[dict], dict[str, dict], dict[str, dict]]:
    structures, valuesets, codesystems = [], {}, {}
    for file in sorted(directory.glob("*.json")):
        if not file.name.startswith(("StructureDefinition-", "ValueSet-", "CodeSystem-")):
            continue
        resource = json.loads(file.read_bytes())
        kind = resource.get("resourceType")
        if kind == "StructureDefinition" and resource.get("derivation") != "constraint":
            if resource.get("kind") in ("resource", "complex-type", "primitive-type") and "snapshot" in resource:
                structures.append(resource)
        elif kind == "ValueSet":
            valuesets[resource["url"]] = resource
        elif kind == "CodeSystem":
            codesystems[resource["url"]] = resource
    return structures, valuesets, codesystems


def _type_code(element: dict, entry: dict, kind: str) -> str:
    code = entry["code"]
    if code.startswith("http://hl7.org/fhirpath/System."):
        fhir_type = next((e["valueUrl"] for e in entry.get("extension", ()) if e["url"] == FHIR_TYPE), "string")
        # Resource.id is an id (the snapshot says string for the FHIRPath system type)
        top_level_id = kind == "resource" and element["path"].count(".") == 1 and element["path"].endswith(".id")
        return "id" if top_level_id else fhir_type
    return code


class ValueSets:
    """Expansion of the value sets of required bindings: {system: [codes]}, or None when not enumerable here."""

    def __init__(self, valuesets: dict[str, dict], codesystems: dict[str, dict]):
        self.valuesets, self.codesystems = valuesets, codesystems
        self.expanded: dict[str, dict[str, list[str]] | None] = {}

    def expand(self, url: str) -> dict[str, list[str]] | None:
        url = url.split("|")[0]
        if url not in self.expanded:
            self.expanded[url] = None  # a cycle expands to nothing enumerable
            codes = self._expand(url)
            self.expanded[url] = {s: sorted(c) for s, c in sorted(codes.items())} if codes is not None else None
        return self.expanded[url]

    def _expand(self, url: str) -> dict[str, set[str]] | None:
        valueset = self.valuesets.get(url)
        if valueset is None:
            return None
        compose = valueset.get("compose")
        if not compose:
            return None
        codes: dict[str, set[str]] = {}
        for include in compose.get("include", ()):
            part = self._part(include)
            if part is None:
                return None
            for system, found in part.items():
                codes.setdefault(system, set()).update(found)
        for exclude in compose.get("exclude", ()):
            part = self._part(exclude)
            for system, found in (part or {}).items():
                codes.get(system, set()).difference_update(found)
        return codes

    def _part(self, include: dict) -> dict[str, set[str]] | None:
        if "valueSet" in include:
            if "system" in include:
                return None  # an intersection: not needed by any R4 required binding
            merged: dict[str, set[str]] = {}
            for url in include["valueSet"]:
                part = self.expand(url)
                if part is None:
                    return None
                for system, found in part.items():
                    merged.setdefault(system, set()).update(found)
            return merged
        system = include.get("system")
        if system is None:
            return None
        if "concept" in include:
            return {system: {c["code"] for c in include["concept"]}}
        codesystem = self.codesystems.get(system)
        if codesystem is None or codesystem.get("content") != "complete":
            return None
        concepts = codesystem.get("concept", [])
        if "filter" in include:
            found: set[str] | None = None
            for f in include["filter"]:
                if f.get("property") != "concept" or f.get("op") not in ("is-a", "descendent-of"):
                    return None
                root = _find(concepts, f["value"])
                if root is None:
                    return None
                below = _codes(root.get("concept", []))
                below |= {f["value"]} if f["op"] == "is-a" else set()
                found = below if found is None else found & below
            return {system: found or set()}
        return {system: _codes(concepts)}


def _codes(concepts: list[dict]) -> set[str]:
    out: set[str] = set()
    for concept in concepts:
        out.add(concept["code"])
        out |= _codes(concept.get("concept", []))
    return out


def _find(concepts: list[dict], code: str) -> dict | None:
    for concept in concepts:
        if concept["code"] == code:
            return concept
        found = _find(concept.get("concept", []), code)
        if found is not None:
            return found
    return None


def compile_definitions(directory: Path) -> dict:
    structures, valuesets, codesystems = _load(directory)
    expansions = ValueSets(valuesets, codesystems)
    nodes: dict[str, dict[str, list]] = {}
    constraints: dict[str, list[list[str]]] = {}
    primitives: dict[str, dict] = {}
    resources: list[str] = []
    summary: dict[str, list[str]] = {}
    bindings: dict[str, dict[str, list[str]]] = {}
    for sd in structures:
        name, kind = sd["type"], sd["kind"]
        elements = sd["snapshot"]["element"]
        if kind == "primitive-type":
            value = next(e for e in elements if e["path"] == f"{name}.value")
            regex = next((x["valueString"] for x in value["type"][0].get("extension", ()) if x["url"] == REGEX), None)
            primitives[name] = {"json": JSON_TYPES.get(name, "string"), "regex": regex}
            nodes.setdefault("Element", {})
            continue
        if kind == "resource" and sd.get("abstract") is False:
            resources.append(name)
        has_children = {e["path"].rpartition(".")[0] for e in elements}
        for element in elements:
            path = element["path"]
            if "." not in path:
                _constraints(constraints, name, element)
                continue
            parent, _, field = path.rpartition(".")
            node = nodes.setdefault(parent, {})
            maximum = -1 if element["max"] == "*" else int(element["max"])
            if maximum == 0:
                continue  # prohibited (none in the base definitions, kept for safety)
            binding = None
            if element.get("binding", {}).get("strength") == "required":
                url = element["binding"]["valueSet"].split("|")[0]
                if expansions.expand(url) is not None:
                    binding = url
                    bindings[url] = expansions.expand(url) or {}
            if "contentReference" in element:
                child, types = element["contentReference"].lstrip("#"), [("BackboneElement", None)]
            else:
                types = [(_type_code(element, t, kind), _targets(t)) for t in element.get("type", ())]
                child = path if path in has_children else None
                _constraints(constraints, path, element)
            choice = field.endswith("[x]")
            base = field[:-3] if choice else field
            for type_code, targets in types:
                key = base + type_code[0].upper() + type_code[1:] if choice else base
                node[key] = [base, type_code, element["min"], maximum, binding, child if child else None, targets]
            if element.get("isSummary") and parent == name and kind == "resource":
                summary.setdefault(name, []).append(base)
    return {
        "fhirVersion": "4.0.1",
        "source": PACKAGE,
        "resources": sorted(resources),
        "primitives": dict(sorted(primitives.items())),
        "nodes": nodes,
        "valuesets": dict(sorted(bindings.items())),
        "summary": summary,
        "constraints": constraints,
    }


def _targets(entry: dict) -> list[str] | None:
    """The resource types a Reference may point at, from its ``targetProfile`` (None: not a Reference, or any)."""
    if entry["code"] != "Reference" or not entry.get("targetProfile"):
        return None
    types = []
    for profile in entry["targetProfile"]:
        if not profile.startswith(BASE):  # every R4 core target is a base type: a profile would need its type
            raise ValueError(f"{profile}: a target profile that is not a base resource type")
        types.append(profile.removeprefix(BASE))
    return None if "Resource" in types else sorted(set(types))


def _constraints(constraints: dict[str, list[list[str]]], path: str, element: dict) -> None:
    for c in element.get("constraint", ()):
        if c["severity"] == "error" and c["key"] not in STRUCTURAL and c.get("expression"):
            constraints.setdefault(path, []).append([c["key"], c["expression"], c["human"]])


def main() -> None:
    directory = _package_dir(sys.argv[1] if len(sys.argv) > 1 else None)
    compiled = compile_definitions(directory)
    OUTPUT.write_text(json.dumps(compiled, separators=(",", ":"), sort_keys=False) + "\n")
    print(
        f"{OUTPUT.relative_to(ROOT)}: {len(compiled['resources'])} resource types, {len(compiled['nodes'])} nodes, "
        f"{len(compiled['valuesets'])} value sets, {OUTPUT.stat().st_size // 1024} KiB"
    )


if __name__ == "__main__":
    main()
