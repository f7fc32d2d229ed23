"""Settings from the environment (prefix ``FHIRCRM_``); the defaults run the embedded SQLite store."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path("fhircrm-data")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FHIRCRM_", env_file=".env", extra="ignore")

    environment: str = Field("development", description="development | test | production")
    database_url: str = Field(
        f"sqlite+aiosqlite:///{DEFAULT_DATA_DIR / 'fhircrm.sqlite3'}",
        description="SQLAlchemy async URL; postgresql+psycopg://... in production",
    )
    base_url: str = Field("http://127.0.0.1:8000/fhir", description="public base URL of the FHIR API")
    host: str = "127.0.0.1"
    port: int = 8000

    # Limits that keep one request from taking the server down.
    max_request_bytes: int = 20 * 1024 * 1024
    max_bundle_entries: int = 5000
    default_page_size: int = 20
    max_page_size: int = 1000
    max_include_results: int = 5000

    # Background work (fhircrm worker).
    worker_poll_seconds: float = 1.0
    job_retention_days: float = 7.0  # finished jobs are purged after this; dead letters are kept
    #: Run the worker inside the API process. Default: yes on the embedded SQLite store (one command runs
    #: everything), no on PostgreSQL (run `fhircrm worker` processes beside stateless API replicas).
    embedded_worker: bool | None = None

    @property
    def runs_embedded_worker(self) -> bool:
        return self.is_sqlite if self.embedded_worker is None else self.embedded_worker

    # SMART on FHIR (fhircrm as a resource server). Off by default: mode "none" grants every request full
    # access, which is for development and tests only; production refuses it (see _refuse_open_production).
    auth_mode: Literal["none", "jwt", "introspection"] = Field("none", description="none | jwt | introspection")
    auth_issuer: str | None = Field(None, description="the EHR authorization server's issuer (iss claim)")
    auth_jwks_url: str | None = Field(None, description="where the issuer publishes its signing keys (JWKS)")
    auth_audience: str | None = Field(None, description="expected aud of access tokens; defaults to base_url")
    auth_introspection_url: str | None = Field(None, description="RFC 7662 endpoint (auth_mode=introspection)")
    auth_introspection_client_id: str | None = None
    auth_introspection_client_secret: SecretStr | None = None
    auth_authorize_url: str | None = Field(None, description="published in SMART discovery and metadata")
    auth_token_url: str | None = Field(None, description="published in SMART discovery and metadata")
    auth_leeway_seconds: int = Field(60, description="clock skew allowed on exp/nbf/iat")
    auth_jwks_min_refresh_seconds: float = Field(10.0, description="at most one JWKS refetch per this interval")
    # The development authorization server (fhircrm.smart.devserver): never in production.
    dev_auth_enabled: bool = False
    dev_auth_issuer: str | None = Field(None, description="defaults to base_url with /fhir replaced by /auth")
    dev_auth_key_file: Path = Field(DEFAULT_DATA_DIR / "dev-auth-signing-key.json")
    dev_auth_token_seconds: int = 3600

    @model_validator(mode="after")
    def _refuse_open_production(self) -> Settings:
        if self.environment == "production":
            if self.auth_mode == "none":
                raise ValueError("FHIRCRM_AUTH_MODE=none is refused in production: configure jwt or introspection")
            if self.dev_auth_enabled:
                raise ValueError("FHIRCRM_DEV_AUTH_ENABLED is refused in production")
        if self.auth_mode == "jwt" and not (self.auth_issuer and self.auth_jwks_url):
            raise ValueError("FHIRCRM_AUTH_MODE=jwt needs FHIRCRM_AUTH_ISSUER and FHIRCRM_AUTH_JWKS_URL")
        if self.auth_mode == "introspection" and not self.auth_introspection_url:
            raise ValueError("FHIRCRM_AUTH_MODE=introspection needs FHIRCRM_AUTH_INTROSPECTION_URL")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
