"""Validation cost per resource: the previous validator (fhir.resources R4B models plus the JSON-type pass,
``fhircrm.fhir.models`` and ``fhircrm.fhir.primitives``) against the definition-driven one
(``fhircrm.fhir.validator``), and the FHIRPath invariants (``fhircrm.fhir.invariants``) on top.

Two samples: the demo clinic's resources (what the CRM writes) and the official R4 examples
(``hl7.fhir.r4.examples@4.0.1``, fetched with ``npm pack`` unless a directory is given) of the types both
validators know. Prints microseconds per resource (mean and median) and the load average::

    .venv/bin/python benchmarks/validation.py [--examples DIR] [--repeat 3]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from fhircrm.demo.generator import ClinicSpec, generate_clinic
from fhircrm.errors import FhircrmError
from fhircrm.fhir import models, primitives
from fhircrm.fhir.invariants import invariant_issues
from fhircrm.fhir.resource_types import R4_ONLY
from fhircrm.fhir.validator import structure_issues


def examples(directory: str | None) -> list[dict]:
    if directory is None:
        work = Path(tempfile.mkdtemp(prefix="r4-examples-"))
        subprocess.run(["npm", "pack", "hl7.fhir.r4.examples@4.0.1"], cwd=work, check=True, capture_output=True)
        with tarfile.open(next(work.glob("*.tgz"))) as archive:
            archive.extractall(work, filter="data")
        directory = str(work / "package")
    out = []
    for file in sorted(Path(directory).glob("*.json")):
        resource = orjson.loads(file.read_bytes())
        if isinstance(resource, dict) and "resourceType" in resource and resource["resourceType"] not in R4_ONLY:
            out.append(resource)
    return [r for r in out if r["resourceType"] not in ("ImplementationGuide",) and file_size(r) < 200_000]


def file_size(resource: dict) -> int:
    return len(orjson.dumps(resource))


def clinic() -> list[dict]:
    spec = ClinicSpec(patients=40, days=60, seed=7, today=dt.date(2026, 11, 27))
    return [entry.get("resource", entry) for batch in generate_clinic(spec) for entry in batch]


def old(resource: dict) -> None:
    primitives.check(resource)
    models.validate(resource)


def new(resource: dict) -> None:
    structure_issues(resource)


def new_with_invariants(resource: dict) -> None:
    structure_issues(resource) or invariant_issues(resource)  # the types writes check (WRITE_CHECKED)


def timed(check: Callable[[dict], None], resources: list[dict], repeat: int) -> tuple[float, float]:
    per: list[float] = []
    for resource in resources:
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            with contextlib.suppress(FhircrmError):
                check(resource)
            best = min(best, time.perf_counter() - start)
        per.append(best)
    return statistics.fmean(per) * 1e6, statistics.median(per) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", help="an unpacked hl7.fhir.r4.examples package directory")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    samples = {"demo clinic": clinic(), "R4 examples": examples(args.examples)}
    for name, resources in samples.items():
        for resource in resources[:50]:  # warm every cache (model classes, definitions, parsed invariants)
            for check in (old, new, new_with_invariants):
                with contextlib.suppress(FhircrmError):
                    check(resource)
        print(f"{name}: {len(resources)} resources")
        for label, check in (
            ("before: R4B models + JSON types", old),
            ("after: R4 definitions", new),
            ("after: R4 definitions + invariants (CRM types)", new_with_invariants),
        ):
            mean, median = timed(check, resources, args.repeat)
            print(f"  {label:<48} mean {mean:8.1f} us/resource   median {median:7.1f} us/resource")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
