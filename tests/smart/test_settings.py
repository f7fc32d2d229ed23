"""Settings refuse an open server in production and incomplete SMART configurations anywhere."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from fhircrm.config import Settings


def test_auth_is_off_by_default_outside_production():
    settings = Settings(environment="development")
    assert settings.auth_mode == "none"
    assert settings.dev_auth_enabled is False


def test_production_refuses_auth_mode_none():
    with pytest.raises(ValidationError, match="AUTH_MODE=none is refused in production"):
        Settings(environment="production")


def test_production_refuses_the_development_authorization_server():
    with pytest.raises(ValidationError, match="DEV_AUTH_ENABLED is refused in production"):
        Settings(
            environment="production",
            auth_mode="jwt",
            auth_issuer="https://ehr.example.org",
            auth_jwks_url="https://ehr.example.org/jwks",
            dev_auth_enabled=True,
        )


def test_production_accepts_jwt_mode_with_issuer_and_jwks():
    settings = Settings(
        environment="production",
        auth_mode="jwt",
        auth_issuer="https://ehr.example.org",
        auth_jwks_url="https://ehr.example.org/jwks",
    )
    assert settings.auth_mode == "jwt"


def test_jwt_mode_needs_an_issuer_and_a_jwks_url():
    with pytest.raises(ValidationError, match="needs FHIRCRM_AUTH_ISSUER"):
        Settings(auth_mode="jwt", auth_jwks_url="https://ehr.example.org/jwks")


def test_introspection_mode_needs_an_endpoint():
    with pytest.raises(ValidationError, match="needs FHIRCRM_AUTH_INTROSPECTION_URL"):
        Settings(auth_mode="introspection")


def test_unknown_auth_mode_is_refused():
    with pytest.raises(ValidationError):
        Settings(auth_mode="basic")


def test_auth_mode_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FHIRCRM_AUTH_MODE", "introspection")
    monkeypatch.setenv("FHIRCRM_AUTH_INTROSPECTION_URL", "https://ehr.example.org/introspect")
    monkeypatch.setenv("FHIRCRM_AUTH_INTROSPECTION_CLIENT_SECRET", "s3cret")
    settings = Settings()
    assert settings.auth_mode == "introspection"
    assert "s3cret" not in repr(settings)


def test_roles_are_enforced_with_the_crm_role_codes_by_default():
    settings = Settings()
    assert settings.roles_enforced is True
    assert settings.roles_code_map["http://fhircrm.org/CodeSystem/crm-role|coordinator"] == "coordinator"


def test_a_role_code_map_from_the_environment_replaces_the_default(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FHIRCRM_ROLES_CODE_MAP", '{"http://snomed.info/sct|224535009": "clinician"}')
    assert Settings().roles_code_map == {"http://snomed.info/sct|224535009": "clinician"}


def test_a_role_code_map_naming_an_unknown_role_is_refused():
    with pytest.raises(ValidationError, match="coordinator"):
        Settings(roles_code_map={"urn:local|boss": "root"})
