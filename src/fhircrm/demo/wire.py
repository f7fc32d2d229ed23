"""The demo clinic as ready-to-POST transaction bodies (orjson bytes), tagged with their loading stage.

Encoding once, where the batch is generated, keeps the loaders' work to sending bytes, and bytes cross a process
boundary cheaply (one pickled ``bytes`` object instead of half a million small dicts). The stage says what a batch
may be loaded alongside: network batches go one at a time, before anything else (everything references them);
patient batches are independent of each other; free-slot batches only reference the network.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from fhircrm.demo.generator import ClinicSpec, generate_clinic

Stage = Literal["network", "patients", "slots"]


@dataclass(frozen=True, slots=True)
class EncodedBatch:
    """One transaction Bundle of PUTs, encoded; `patients` and `resources` feed progress bars and reports."""

    stage: Stage
    patients: int
    resources: int
    body: bytes


def encode_transaction(resources: list[dict[str, Any]]) -> bytes:
    """A transaction of PUTs to client ids (re-running updates in place), as orjson bytes."""
    entries = [
        {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}} for r in resources
    ]
    return orjson.dumps({"resourceType": "Bundle", "type": "transaction", "entry": entries})


def encoded_batches(spec: ClinicSpec) -> Iterator[EncodedBatch]:
    """`generate_clinic(spec)` batch by batch, encoded, in the generator's (dependency) order.

    The generator yields the network, then batches of whole patients, then the free future slots; a batch's
    stage follows from that order (the first batch holding a Patient starts the patients).
    """
    stage: Stage = "network"
    for batch in generate_clinic(spec):
        patients = sum(1 for r in batch if r["resourceType"] == "Patient")
        if patients:
            stage = "patients"
        elif stage == "patients":
            stage = "slots"
        yield EncodedBatch(stage, patients, len(batch), encode_transaction(batch))
