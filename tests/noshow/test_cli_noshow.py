"""``fhircrm noshow train`` then ``fhircrm noshow evaluate``, as typed against the real database: the model file
carries its window, validation figures and call threshold, and evaluate shows IT the threshold's calls per day."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine
from tests.fixtures.cli import cli_env, run_fhircrm
from tests.fixtures.journeys import Clinic


async def test_train_stores_the_threshold_and_evaluate_shows_its_calls_per_day(
    clinic: Clinic, clean_engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    today = datetime.now(UTC).replace(hour=14, minute=0, second=0, microsecond=0)
    for i in range(60):
        patient = await clinic.patient(address=[{"district": "North" if i % 3 else "South"}])
        start = today - timedelta(days=70 - i)
        lead = 30 if i % 2 else 1
        status = "noshow" if (lead == 30 and i % 4 != 1) or i % 5 == 0 else "fulfilled"
        await clinic.appointment(patient, start=start, status=status, created=start - timedelta(days=lead))
    env = cli_env(database_url=database_url)
    model_file = tmp_path / "model.json"
    trained = run_fhircrm("noshow", "train", "--output", str(model_file), env=env, cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    assert trained.stdout.startswith("trained on 60 past appointments")
    meta = json.loads(model_file.read_text())["meta"]
    assert meta["training_window"]["appointments"] == 60 and "logistic" in meta["validation"]["auc"]
    assert meta["call_threshold"]["catch_rate"] >= 0.5
    evaluated = run_fhircrm(
        "noshow", "evaluate", env={**env, "FHIRCRM_NOSHOW_MODEL_FILE": str(model_file)}, cwd=tmp_path
    )
    assert evaluated.returncode == 0, evaluated.stderr
    out = evaluated.stdout
    assert "trained on 60 appointments" in out and "call threshold: risk >=" in out and "calls per day" in out
    assert "== configured model, held-out later appointments ==" in out and "AUC" in out
