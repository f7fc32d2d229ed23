"""Settings from the environment (prefix ``FHIRCRM_``); the defaults run the embedded SQLite store."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
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

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
