"""docker-compose.yml (Docker does not run here): its services, images, commands and variables are checked."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from fhircrm.config import Settings

DEFAULTED = re.compile(r"\$\{[A-Z_]+:-([^}]*)\}")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_the_stack_has_postgres_hapi_an_api_a_worker_and_a_one_shot_register(compose: dict) -> None:
    assert set(compose["services"]) == {"postgres", "hapi", "api", "worker", "register"}


def test_registration_waits_for_hapi_to_answer(compose: dict) -> None:
    register = compose["services"]["register"]
    assert register["command"][:3] == ["fhircrm", "subscriptions", "register"]
    wait = register["command"].index("--wait-for-ehr")
    assert float(register["command"][wait + 1]) >= 300  # HAPI takes minutes to start
    assert register["depends_on"]["hapi"] == {"condition": "service_started"}
    assert register["restart"] == "no" and register["image"] == compose["services"]["api"]["image"]


#: The hapi.* properties of hapi-fhir-jpaserver-starter (AppProperties and its Subscription class, read in the
#: starter's source): the ones the compose file may set. ``subscription.email_enabled`` is not one of them.
HAPI_PROPERTIES = {
    "hapi.fhir.fhir_version",
    "hapi.fhir.subscription.resthook_enabled",
    "hapi.fhir.subscription.websocket_enabled",
    "hapi.fhir.subscription.polling_interval_ms",
    "hapi.fhir.subscription.immediately_queued",
    "hapi.fhir.subscription.cross_partition_enabled",
    "hapi.fhir.cr_enabled",
    "hapi.fhir.allow_external_references",
    "hapi.fhir.client_id_strategy",
    "hapi.fhir.enforce_referential_integrity_on_write",
    "hapi.fhir.enforce_referential_integrity_on_delete",
}


def test_hapi_gets_only_real_properties(compose: dict) -> None:
    hapi = {k for k in compose["services"]["hapi"]["environment"] if k.startswith("hapi.")}
    assert hapi <= HAPI_PROPERTIES, hapi - HAPI_PROPERTIES


def test_hapi_is_the_public_image_with_rest_hook_subscriptions_on(compose: dict) -> None:
    hapi = compose["services"]["hapi"]
    assert hapi["image"].startswith("hapiproject/hapi")
    assert hapi["environment"]["hapi.fhir.subscription.resthook_enabled"] == "true"
    assert hapi["environment"]["spring.datasource.url"].startswith("jdbc:postgresql://postgres:5432/")


def test_the_api_serves_and_the_worker_works_from_the_built_image(compose: dict) -> None:
    api, worker = compose["services"]["api"], compose["services"]["worker"]
    assert api["build"] == "." and (ROOT / "Dockerfile").exists()
    assert worker["image"] == api["image"]
    assert api["command"][:2] == ["fhircrm", "serve"]
    assert worker["command"] == ["fhircrm", "worker"]


def test_every_fhircrm_variable_is_a_real_setting(compose: dict) -> None:
    fields = {f"FHIRCRM_{name.upper()}" for name in Settings.model_fields}
    for service in ("api", "worker", "register"):
        env = compose["services"][service]["environment"]
        unknown = {k for k in env if k.startswith("FHIRCRM_")} - fields
        assert not unknown, f"{service}: {unknown}"


def test_fhircrm_points_at_postgres_and_at_hapi(compose: dict) -> None:
    env = compose["services"]["api"]["environment"]
    assert (
        env["FHIRCRM_DATABASE_URL"].startswith("postgresql+psycopg://")
        and "@postgres:5432/" in env["FHIRCRM_DATABASE_URL"]
    )
    assert env["FHIRCRM_EHR_BASE_URL"] == "http://hapi:8080/fhir"
    assert env["FHIRCRM_EHR_NOTIFICATION_SECRET"]
    assert env == compose["services"]["worker"]["environment"]


def test_the_compose_settings_load(compose: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in compose["services"]["api"]["environment"].items():
        monkeypatch.setenv(key, DEFAULTED.sub(lambda m: m.group(1), str(value)))  # compose's ${VAR:-default}
    settings = Settings(_env_file=None)
    assert settings.ehr_base_url == "http://hapi:8080/fhir" and settings.runs_embedded_worker is False
