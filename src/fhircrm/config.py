"""Settings from the environment (prefix ``FHIRCRM_``); the defaults run the embedded SQLite store."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path("fhircrm-data")
CRM_ROLE_SYSTEM = "http://fhircrm.org/CodeSystem/crm-role"
CRM_ROLES = ("clinician", "coordinator", "supervisor", "administrator")


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
    statement_timeout_ms: int = 15_000  # PostgreSQL: any one statement of an API request is cancelled after this

    # Background work (fhircrm worker).
    worker_poll_seconds: float = 1.0
    job_retention_days: float = 7.0  # finished jobs are purged after this; dead letters are kept
    #: Run the worker inside the API process. Default: yes on the embedded SQLite store (one command runs
    #: everything), no on PostgreSQL (run `fhircrm worker` processes beside stateless API replicas).
    embedded_worker: bool | None = None

    # Bulk Data ($export, $import, fhircrm import: fhircrm.bulk).
    #: resources one export step writes (one ndjson file of the manifest, one committed unit of a job: a worker
    #: killed mid-export redoes at most one step); lines one import step reads and writes
    bulk_step_resources: int = 5000
    #: an export's or import's status and files are kept this long after it finishes, then purged
    bulk_retention_hours: float = 24.0
    #: how long a client should wait between status polls (the Retry-After header)
    bulk_retry_after_seconds: int = 2

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
    # Roles (fhircrm.smart.roles): what the person behind a token's fhirUser may do, from their PractitionerRoles.
    # Roles only narrow what user/ scopes grant; patient/ and system/ tokens are not subject to them.
    roles_enforced: bool = Field(True, description="false: user/ scopes alone decide (no role lookup)")
    roles_code_map: dict[str, Literal["clinician", "coordinator", "supervisor", "administrator"]] = Field(
        default_factory=lambda: {f"{CRM_ROLE_SYSTEM}|{r}": r for r in CRM_ROLES},
        description='PractitionerRole.code "system|code" -> fhircrm role; replaces the default (crm-role codes)',
    )
    roles_team_by: list[Literal["location", "service", "organization"]] = Field(
        default_factory=lambda: ["location"],
        description="PractitionerRole fields whose sharing puts staff in one team (location: a site's staff)",
    )
    # The development authorization server (fhircrm.smart.devserver): never in production.
    dev_auth_enabled: bool = False
    dev_auth_issuer: str | None = Field(None, description="defaults to base_url with /fhir replaced by /auth")
    dev_auth_key_file: Path = Field(DEFAULT_DATA_DIR / "dev-auth-signing-key.json")
    dev_auth_token_seconds: int = 3600

    # --- Journeys, timers, no-show risk and waitlist (fhircrm.journeys / timers / noshow / waitlist) ---
    #: Shifts the clock timers and journeys see (simulations and tests move time this way); 0 in production.
    timers_clock_offset_seconds: float = 0.0
    timers_sweep_seconds: float = Field(3.0, description="how often each sweep lane looks for due timers")
    timers_sweep_lanes: int = Field(2, description="parallel sweep lanes (each under its own advisory lock)")
    timers_batch_size: int = Field(500, description="timers claimed and dispatched per transaction")
    #: Planned contact times avoid the night in the patient's zone (Patient tz-code extension, else this one).
    timers_default_timezone: str = "America/New_York"
    contact_day_start_hour: int = 9
    contact_day_end_hour: int = 20
    #: Install the shipped journeys at `fhircrm migrate` and at start-up (a journey an operator edited is kept).
    journeys_install_defaults: bool = True
    noshow_model_file: Path | None = Field(None, description="a trained model (JSON); default: the shipped one")
    noshow_high_risk: float = Field(0.30, description="probability at or above which a booking is high risk")
    noshow_medium_risk: float = Field(0.15, description="probability at or above which a booking is medium risk")
    waitlist_offer_count: int = Field(3, description="candidates offered a freed slot at once")
    waitlist_hold_minutes: int = Field(120, description="how long an offered slot is held for the candidates")

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

    # --- Channels (fhircrm.channels): providers, sending policy, webhooks. A channel whose provider is not
    # configured is delivered by the local channel (recorded, never sent), so development needs no accounts.
    channels_public_url: str | None = Field(None, description="public URL of this server for provider webhooks")
    channels_clinic_timezone: str = Field("America/New_York", description="time zone when the patient has none")
    channels_quiet_start_hour: int = Field(21, description="no messages from this local hour ...")
    channels_quiet_end_hour: int = Field(8, description="... until this local hour")
    channels_daily_cap: int = Field(4, description="at most this many messages per patient in 24 hours")
    channels_default_language: str = "en"
    channels_inbound_secret: SecretStr | None = Field(None, description="shared secret for forms and inbound email")
    channels_sla_first_response_minutes: int = 240
    channels_sla_resolution_minutes: int = 2880
    channels_sla_warning_fraction: float = Field(0.8, description="warn when this share of an SLA window has passed")
    channels_webchat_secret: SecretStr | None = Field(
        None, description="signs web chat conversation tokens, the same on every node; required in production"
    )
    channels_webchat_token_days: int = Field(30, description="how long a web chat conversation token is valid")
    channels_webchat_origins: list[str] = Field(
        default_factory=lambda: ["*"], description="web sites allowed to embed the chat widget (CORS)"
    )
    channels_webchat_poll_seconds: float = Field(1.0, description="how often a chat stream looks for new messages")
    channel_providers: list[str] = Field(
        default_factory=list,
        description="more channel providers, as 'module:attribute' of a Provider descriptor, tried before ours",
    )
    channel_provider_options: dict[str, dict[str, SecretStr]] = Field(
        default_factory=dict, description="each added provider's own settings, by provider name (never printed)"
    )
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_sms_from: str | None = None
    twilio_whatsapp_from: str | None = None
    twilio_voice_from: str | None = None
    twilio_api_base: str = "https://api.twilio.com"
    meta_whatsapp_token: SecretStr | None = None
    meta_whatsapp_phone_number_id: str | None = None
    meta_app_secret: SecretStr | None = None
    meta_verify_token: SecretStr | None = None
    meta_graph_base: str = "https://graph.facebook.com"
    meta_graph_version: str = "v19.0"
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str | None = None
    smtp_timeout_seconds: float = 20.0

    # --- EHR connector and subscriptions (fhircrm.ehr, fhircrm.subscriptions). No EHR by default.
    ehr_base_url: str | None = Field(None, description="the EHR's FHIR R4 base URL (HAPI, Epic, Medplum ...)")
    ehr_auth: Literal["none", "bearer", "smart"] = Field("none", description="none | bearer | smart (Backend Services)")
    ehr_bearer_token: SecretStr | None = Field(None, description="static token for ehr_auth=bearer")
    ehr_client_id: str | None = Field(None, description="our client_id at the EHR (ehr_auth=smart)")
    ehr_token_url: str | None = Field(None, description="token endpoint; discovered from smart-configuration if unset")
    ehr_scope: str = Field("system/*.read system/*.write", description="scopes asked for (ehr_auth=smart)")
    ehr_key_alg: Literal["RS384", "ES384"] = Field("RS384", description="client assertion signing algorithm")
    ehr_key_file: Path = Field(DEFAULT_DATA_DIR / "ehr-client-key.json", description="our private JWK (generated)")
    ehr_timeout_seconds: float = Field(10.0, description="per request to the EHR")
    ehr_max_retries: int = Field(3, description="retries on 429/502/503/504 and network errors, per call")
    ehr_max_retry_wait_seconds: float = Field(5.0, description="longer Retry-After waits become a job retry")
    ehr_circuit_failures: int = Field(5, description="consecutive failures that open the circuit")
    ehr_circuit_reset_seconds: float = Field(30.0, description="how long an open circuit refuses calls")
    ehr_identifier_system: str = Field("urn:fhircrm:ehr-id", description="identifier system of EHR ids on mirrors")
    ehr_poll_seconds: float = Field(0.0, description="polling fallback period; 0 = off (use subscriptions)")
    ehr_writeback_types: list[str] = Field(default_factory=list, description="CRM types also written to the EHR")
    ehr_writeback_seconds: float = Field(10.0, description="how often new CRM resources are queued for write-back")
    #: A patient's confirmation or cancellation of an EHR appointment (a "C"/"X" reply) is written to the EHR's
    #: Appointment (participant status, cancellation), unless the patient objects to data sharing.
    ehr_writeback_appointment_replies: bool = True
    ehr_public_url: str | None = Field(None, description="root URL the EHR uses to reach us; default from base_url")
    ehr_notification_secret: SecretStr | None = Field(None, description="master secret of the listener's headers")
    ehr_notification_header: str = Field("X-Fhircrm-Secret", description="header carrying a Subscription's secret")
    ehr_subscriptions_dir: Path | None = Field(None, description="Subscription templates (default: ./subscriptions)")
    ehr_gap_grace_seconds: float = Field(2.0, description="how long a late notification may fill a hole on its own")
    # Topic-based Subscriptions are kept only when the EHR proves them: `subscriptions register` waits this long
    # for each one's handshake, and falls back to criteria (then polling) for the ones that stay silent.
    ehr_handshake_seconds: float = Field(20.0, description="how long registration waits for a topic handshake")
    # The watch (fhircrm.subscriptions.watch): flags our EHR Subscriptions whose handshake or heartbeat is
    # overdue or that stay silent while the EHR changes (status, a Task for IT), polls what they miss, and sweeps
    # the EHR's _history for deletes no notification brought. 0 = off.
    ehr_watch_seconds: float = Field(60.0, description="period of the EHR subscription watch; 0 = off")
    ehr_silence_grace_seconds: float = Field(120.0, description="how long an EHR change may go unnotified")
    subscriptions_hmac_secret: SecretStr | None = Field(None, description="signs our outbound notifications")
    subscriptions_max_attempts: int = Field(6, description="delivery attempts before a notification is dead")
    subscriptions_timeout_seconds: float = Field(10.0, description="per outbound notification")
    # Our Subscriptions' endpoints may not be loopback, private, link-local (cloud metadata), CGNAT, multicast,
    # reserved or unspecified addresses, written or resolved (fhircrm.subscriptions.endpoints): the worker would
    # call into the clinic's own network for whoever wrote the URL. Receivers the operator trusts go here:
    # host names (trusted whatever they resolve to: docker service names), CIDRs (the addresses inside them are
    # allowed) or URL prefixes (http://listener:8080/hooks). JSON list in the environment.
    subscriptions_allowed_endpoints: list[str] = Field(
        default_factory=list, description="hosts, CIDRs or URL prefixes our notifications may go to although private"
    )

    # --- The SMART app and coordinators' workspace (fhircrm.smartapp, fhircrm.ui) ---
    app_client_id: str = Field("fhircrm-app", description="our client_id at the EHR's authorization server")
    #: ``user/*.rs``: an EHR launch in the practitioner's context (no patient) opens the workspace for the clinic,
    #: within the person's roles; a launch with a patient stays on that patient (fhircrm.ui.access).
    app_scope: str = Field(
        "launch openid fhirUser patient/*.rs user/*.rs user/Task.cruds user/Communication.cruds user/Appointment.cru "
        "offline_access",
        description="scopes asked for at an EHR launch (standalone: launch/patient replaces launch)",
    )
    #: A staff sign-in without a patient (the coordinators' workspace): reads for the clinic within the person's
    #: roles, the writes the workspace makes. No launch/patient: the worklist, inbox and dashboard start from the
    #: clinic, and a patient is opened from the patient search.
    app_staff_scope: str = Field(
        "openid fhirUser user/*.rs user/Task.cruds user/Communication.cruds user/CommunicationRequest.cruds "
        "user/Appointment.cruds offline_access",
        description="scopes asked for at a staff sign-in (standalone launch without a patient)",
    )
    app_redirect_url: str | None = Field(None, description="registered redirect_uri; default: this server's")
    app_allowed_issuers: list[str] = Field(
        default_factory=list, description="FHIR servers (iss) a launch may name; default: base_url only"
    )
    app_session_hours: float = Field(10.0, description="how long a signed-in app session lasts")
    app_frame_ancestors: list[str] = Field(
        default_factory=list, description="EHR origins allowed to embed the app (CSP frame-ancestors)"
    )
    app_cookie_samesite: Literal["lax", "strict", "none"] = Field(
        "lax", description="'none' (with HTTPS) when the EHR embeds the app in a cross-site iframe"
    )
    # Live lists in the workspace merge fresh rows in place (smart_app/static/live.js) this often; tests shorten it.
    ui_worklist_refresh_seconds: float = Field(60.0, gt=0, description="worklist rows refresh interval")
    ui_inbox_refresh_seconds: float = Field(5.0, gt=0, description="inbox thread list refresh interval")

    # --- Populations, experience, complaints, education, indicators (fhircrm.segments / surveys / complaints /
    # education / indicators) ---
    segments_refresh_seconds: float = Field(3600.0, description="how often every segment is recomputed")
    surveys_fatigue_days: int = Field(30, description="at most one survey per patient in this many days")
    surveys_link_days: int = Field(14, description="how long a survey link stays valid")
    surveys_secret: SecretStr | None = Field(None, description="signs survey links; required in production")
    surveys_public_url: str | None = Field(None, description="root URL of the survey form; default from base_url")
    surveys_low_nps: int = Field(6, description="an NPS answer at or below this opens a service-recovery Task")
    surveys_low_csat: int = Field(2, description="a CSAT answer (1-5) at or below this opens one too")
    complaints_sla_check_seconds: float = Field(300.0, description="how often complaint SLAs are checked")
    complaints_warning_fraction: float = Field(0.75, description="share of an SLA window after which it warns")


@lru_cache
def get_settings() -> Settings:
    return Settings()
