"""Train and evaluate the no-show model on the store's past Appointments (time split: the later part is held out)."""

from __future__ import annotations

from datetime import datetime

import numpy as np

from fhircrm.config import Settings
from fhircrm.fhir.paging import every_match
from fhircrm.fhir.store import FhirStore
from fhircrm.noshow.assess import band, model_for
from fhircrm.noshow.dataset import Dataset, build_dataset
from fhircrm.noshow.metrics import report
from fhircrm.noshow.model import NoShowModel, fit

PAST = "noshow,fulfilled,arrived,checked-in,cancelled"


async def store_dataset(store: FhirStore, *, now: datetime) -> Dataset:
    appointments = await every_match(store, "Appointment", [("status", PAST), ("date", f"lt{now.isoformat()}")])
    patients = {f"Patient/{p['id']}": p for p in await every_match(store, "Patient", [])}
    return build_dataset(appointments, patients, now=now)


def time_split(data: Dataset, *, held_out: float = 0.2) -> tuple[Dataset, Dataset]:
    if not data.starts:
        raise ValueError("no past appointments with a known outcome")
    cutoff = sorted(data.starts)[int(len(data.starts) * (1 - held_out))]
    return data.split(cutoff)


async def train(store: FhirStore, *, now: datetime) -> tuple[NoShowModel, int]:
    data = await store_dataset(store, now=now)
    if len(set(data.labels.tolist())) < 2:
        raise ValueError("training needs both kept and missed appointments")
    return fit(data.matrix, data.labels, version=f"store-{now.date().isoformat()}"), len(data.labels)


async def evaluate(store: FhirStore, *, settings: Settings, now: datetime) -> str:
    train_set, test_set = time_split(await store_dataset(store, now=now))
    refit = fit(train_set.matrix, train_set.labels, version="held-out")
    sections = []
    for title, model in (("refit on the earlier 80%", refit), ("configured model", model_for(settings))):
        scores = model.predict(_columns(test_set, model))
        bands = [band(float(p), settings) for p in scores]
        sections.append(f"== {title}, held-out later appointments ==\n" + report(test_set.labels, scores, bands))
    return "\n".join(sections)


def _columns(data: Dataset, model: NoShowModel) -> np.ndarray:
    from fhircrm.noshow.features import FEATURES

    index = {name: i for i, name in enumerate(FEATURES)}
    return np.column_stack(
        [data.matrix[:, index[n]] if n in index else np.zeros(len(data.labels)) for n in model.features]
    )
