"""Settings: flags, then RIGHTSFLOW_* environment, then a TOML file, then defaults.

Built once per process by a composition root and passed down; nothing reads it globally.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, IPvAnyNetwork, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

_RATE = r"^[0-9]+ ?(/|per) ?(second|minute|hour|day)$"  # one `limits` rate: "10/minute"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RIGHTSFLOW_", extra="forbid")

    data_dir: Path = Path("rightsflow-data")
    datamap_dir: Path | None = None
    database_url: str | None = Field(
        default=None, description="App database; default: SQLite in the data dir"
    )
    temporal_address: str | None = Field(
        default=None, description="host:port of a Temporal cluster; default: start a dev server"
    )
    temporal_namespace: str = "default"
    temporal_ui_port: int | None = None
    task_queue: str = "rightsflow"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    # How hard a step tries before the request fails with the step's reason.
    step_max_attempts: int = Field(default=8, ge=1)
    step_initial_interval_s: float = Field(default=1.0, gt=0)
    step_max_interval_s: float = Field(default=30.0, gt=0)
    step_timeout_s: float = Field(default=300.0, gt=0)
    # Throughput: concurrent reads/writes of one collection are merged into one statement when
    # they arrive within the window (a max batch of 1 turns merging off); how much a worker runs
    # at once.
    coalesce_window_ms: float = Field(default=5.0, ge=0, le=1000)
    coalesce_max_batch: int = Field(default=100, ge=1, le=10_000)
    worker_max_activities: int = Field(default=64, ge=1, le=10_000)
    worker_max_workflow_tasks: int = Field(default=64, ge=1, le=10_000)
    public_url: str | None = Field(
        default=None,
        description="Base URL services and task owners use to reach this API "
        "(callbacks, task links); default: http://HOST:PORT",
    )
    operators_email: str = Field(
        default="privacy-ops@localhost",
        description="Who is told when a system fails or does not answer in time",
    )
    log_level: str = "info"
    log_json: bool = False
    # Records of a closed request (sealed identities, results, packages, data key) are purged
    # this many days after it closed; the request's non-personal facts and its audit trail stay.
    # CCPA regulations §7101(a) ask for records of requests to be kept for at least 24 months.
    retention_days: int = Field(
        default=730, ge=1, description="Days a closed request's records are kept (purge after)"
    )
    # Keys: the master key from a key file or an environment variable (never both), what wraps
    # the per-request data keys ("local", or a KMS adapter class), and the separate key database.
    master_key_file: Path | None = Field(default=None, description="default: DATA_DIR/secret.key")
    master_key_env: str = Field(
        default="RIGHTSFLOW_MASTER_KEY", description="Environment variable with a base64 master key"
    )
    kek_provider: str = Field(default="local", description="'local' or 'package.module:Class'")
    key_database_url: str | None = Field(
        default=None, description="Key database; default: SQLite keys.db in the data dir"
    )
    # Mail: through this SMTP server when smtp_host is set, else as files in the data dir.
    smtp_host: str | None = None
    smtp_port: int | None = Field(default=None, ge=1, le=65535, description="default: by security")
    smtp_security: Literal["none", "starttls", "tls"] = "starttls"
    smtp_username: str | None = None
    smtp_password_env: str | None = Field(
        default=None, description="Name of the environment variable holding the SMTP password"
    )
    smtp_password_file: Path | None = None
    smtp_ca_file: Path | None = Field(default=None, description="CA bundle to trust for SMTP TLS")
    smtp_timeout_s: float = Field(default=30.0, gt=0, le=600)
    mail_from: str = "rightsflow@localhost"
    # Identity verification by emailed code: each resend waits twice as long as the last.
    verification_code_ttl_s: int = Field(default=900, ge=60)
    verification_max_attempts: int = Field(default=5, ge=1, le=10)
    verification_resend_after_s: int = Field(default=60, ge=1)
    verification_max_sends: int = Field(default=5, ge=1, le=20)
    # The lifecycle: which verified requests go ahead without an operator, how long an
    # unverified request stays open, and when operators are reminded of a deadline.
    auto_approve: list[str] = Field(
        default=["access", "portability", "opt_out", "limit_use"],
        description="Request types approved automatically once verified; '*' for all",
    )
    verify_within_days: float = Field(default=14, gt=0, le=365)
    remind_before_days: list[float] = Field(default=[7, 1])
    # Data Rights Protocol 1.0 (authorized agents): answered once a business id and an
    # agents.json (file, else URL) are set. The rest fills our businesses.json entry.
    drp_business_id: str | None = Field(default=None, description="Our id in the DRP directory")
    drp_agents_file: Path | None = None
    drp_agents_url: str | None = None
    drp_agents_refresh_s: float = Field(default=3600.0, gt=0)
    drp_voluntary_regime: str = Field(default="ccpa", description="Deadlines without a regime")
    drp_allow_http_callbacks: bool = Field(default=False, description="Local setups only")
    drp_business_name: str | None = None
    drp_logo_url: str | None = None
    drp_web_url: str | None = None
    drp_privacy_policy_url: str | None = None
    drp_technical_contact: str | None = None
    drp_business_contact: str | None = None
    drp_supported_verifications: list[Literal["email", "phone_number", "address"]] = ["email"]
    # Temporal codec server (/codec) origins allowed by CORS; signed package links' lifetime.
    codec_cors_origins: list[str] = Field(
        default=[], description="Temporal UI origins; default: the embedded dev server's UI"
    )
    package_link_ttl_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    # OAuth2 clients: access token lifetime, and how long a token's client is trusted to be still
    # active before the database is asked again (a revocation takes effect within that time).
    access_token_ttl_s: int = Field(default=600, ge=30, le=3600)
    client_status_cache_s: float = Field(default=5.0, ge=0, le=30)
    # People and console sessions: lockout after failed logins, session idle and absolute limits.
    max_failed_logins: int = Field(default=10, ge=1, le=1000)
    lockout_minutes: int = Field(default=15, ge=1, le=24 * 60)
    session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    session_max_hours: int = Field(default=12, ge=1, le=7 * 24)
    # Hardening: rate limits ("N/minute"; 429 + Retry-After) per client IP on public routes and
    # per principal on the rest; the SSRF allow for DRP URLs; CORS for these exact origins only.
    rate_limits_enabled: bool = True
    rate_limit_storage_url: str | None = Field(
        default=None, description="redis://host:port/db to share counters; default: in memory"
    )
    rate_limit_trusted_proxies: list[IPvAnyNetwork] = Field(
        default=[], description="Proxies (IPs/CIDRs) whose X-Forwarded-For is believed"
    )
    rate_limit_public: str = Field(default="60/minute", pattern=_RATE)  # subject, task token
    rate_limit_code: str = Field(default="10/minute", pattern=_RATE)  # per IP and per request
    rate_limit_login: str = Field(default="10/minute", pattern=_RATE)  # console, OAuth2 token
    rate_limit_drp: str = Field(default="300/minute", pattern=_RATE)  # one agent, many requests
    rate_limit_principal: str = Field(default="1200/minute", pattern=_RATE)  # per client/person
    drp_allow_private_network: bool = Field(
        default=False, description="Allow internal addresses for DRP callbacks and directory"
    )
    cors_origins: list[Annotated[str, Field(pattern=r"^https?://[A-Za-z0-9.\-\[\]:]+$")]] = Field(
        default=[], description="Exact browser origins allowed to call the API (none: no CORS)"
    )
    # Consent read API: the state cache in Redis (shared by every API process); else in-process.
    consent_cache_url: str | None = Field(
        default=None,
        pattern=r"^rediss?://",
        description="redis://host:port/db for the consent state cache; default: in process",
    )
    consent_cache_off: bool = Field(
        default=False, description="Read consent state from the database only (to measure it)"
    )
    # Consent writes: concurrent writes group-committed in one transaction (services/consent_batch).
    # A lone write never waits; concurrent ones share one transaction (services/consent_batch.py).
    consent_write_batch_ms: float = Field(
        default=2, ge=0, le=50, description="Window to batch concurrent consent writes; 0: off"
    )
    # Global Privacy Control: /.well-known/gpc.json's lastUpdate (when GPC handling last changed).
    gpc_last_update: date = Field(
        default=date(2026, 11, 25), description="YYYY-MM-DD for lastUpdate in gpc.json"
    )
    # GraphQL (/graphql): the GraphiQL page (off unless asked for), depth and cost limits.
    graphql_ide: bool = Field(default=False, description="Serve GraphiQL on GET /graphql")
    graphql_max_depth: int = Field(default=8, ge=2, le=32)
    graphql_max_cost: int = Field(default=20000, ge=10, description="Fields x list sizes")

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def app_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'rightsflow.db'}"

    @property
    def key_db_url(self) -> str:
        return self.key_database_url or f"sqlite:///{self.data_dir / 'keys.db'}"

    @property
    def api_base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def admin_token_file(self) -> Path:
        return self.data_dir / "admin-token"

    @property
    def secret_key_file(self) -> Path:
        return self.data_dir / "secret.key"

    @property
    def packages_dir(self) -> Path:
        return self.data_dir / "packages"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,  # noqa: ARG003 (signature set by pydantic-settings)
        file_secret_settings: PydanticBaseSettingsSource,  # noqa: ARG003
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))


def load_settings(config_file: Path | None = None, **flags: Any) -> Settings:
    """Flags (None means not given) beat RIGHTSFLOW_* variables, which beat the TOML file."""
    given = {k: v for k, v in flags.items() if v is not None}
    if config_file is None:
        return Settings(**given)
    if not config_file.is_file():
        raise FileNotFoundError(f"config file not found: {config_file}")

    class _WithFile(Settings):
        model_config = SettingsConfigDict(
            env_prefix="RIGHTSFLOW_", extra="forbid", toml_file=config_file
        )

    return _WithFile(**given)
