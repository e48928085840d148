"""Wiring shared by the composition roots (serve, worker, CLI commands): Settings in,
a ready Platform out. Nothing here runs at import time."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError
from sqlalchemy import Engine, text

from rightsflow.config import Settings
from rightsflow.connectors.pool import ConnectorPool
from rightsflow.connectors.registry import ConnectorRegistry, default_registry
from rightsflow.domain.datamap import DataMap
from rightsflow.domain.errors import DataMapInvalid, InvalidInput, Problem
from rightsflow.domain.policy import Policy
from rightsflow.domain.requests import RequestType
from rightsflow.domain.verification import VerificationPolicy
from rightsflow.services.clients import ClientService
from rightsflow.services.consent_cache import InProcessConsentCache
from rightsflow.services.consent_catalog import ensure_standard_purposes
from rightsflow.services.consent_ports import ConsentCache
from rightsflow.services.consent_read import NoConsentCache
from rightsflow.services.datamap import load_datamap
from rightsflow.services.lifecycle_rules import LifecycleRules
from rightsflow.services.platform import Platform
from rightsflow.storage.access_tokens import KEYS_FILE, JwtAccessTokens
from rightsflow.storage.client_repository import SqlClientStore
from rightsflow.storage.kek import KekProvider, KekRing, load_provider, master_secret
from rightsflow.storage.key_store import SqlKeyStore, open_key_database, unkeyed_open_requests
from rightsflow.storage.key_upgrade import move_app_keys
from rightsflow.storage.migrate import make_engine, upgrade_database
from rightsflow.storage.outbox import FileOutbox
from rightsflow.storage.packages import FilePackageStore
from rightsflow.storage.signing_keys import FileSigningKey
from rightsflow.storage.smtp import SmtpConfig, SmtpNotifier, read_secret
from rightsflow.storage.uow import SqlUnitOfWorkFactory
from rightsflow.storage.vault import FileVault
from rightsflow.workflows.contracts import StepPolicy, Tuning


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    platform: Platform
    connectors: ConnectorPool
    keys: SqlKeyStore  # the key database (wrapped data keys, KEK versions)

    def close(self) -> None:
        self.connectors.close()
        self.engine.dispose()
        self.keys.engine.dispose()

    def database_status(self) -> str:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # readiness reports, never raises
            return f"unreachable ({type(exc).__name__})"
        return "ok"


def load_map(
    settings: Settings, registry: ConnectorRegistry, env: Mapping[str, str] | None = None
) -> tuple[DataMap, dict[str, Policy]]:
    if settings.datamap_dir is None:
        raise DataMapInvalid([Problem("settings", "datamap_dir", "no data map directory given")])
    return load_datamap(
        settings.datamap_dir, env if env is not None else os.environ, registry.validate_config
    )


def build_runtime(settings: Settings, registry: ConnectorRegistry | None = None) -> Runtime:
    """Validate the data map, migrate the app database and wire the platform."""
    registry = registry or default_registry()
    datamap, policies = load_map(settings, registry)
    engine, keys = open_databases(settings)
    pool = ConnectorPool(registry, datamap)
    platform = Platform(
        uow=SqlUnitOfWorkFactory(engine),
        vault=make_vault(settings, engine, keys),
        packages=FilePackageStore(settings.packages_dir),
        connectors=pool,
        clock=utc_now,
        datamap=datamap,
        policies=policies,
        signer=FileSigningKey(settings.data_dir),
        notifier=make_notifier(settings),
        public_url=settings.api_base_url,
        operators=settings.operators_email,
        lifecycle=lifecycle_rules(settings),
        consent_cache=make_consent_cache(settings),
    )
    ensure_standard_purposes(platform)  # every installation starts with the standard purposes
    return Runtime(settings, engine, platform, pool, keys)


def open_databases(settings: Settings) -> tuple[Engine, SqlKeyStore]:
    """The app database (migrated) and the key database; the data dir is made if missing."""
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    engine = make_engine(settings.app_database_url)
    keys = open_key_store(settings, engine)  # before revision 0007 drops the old key table
    upgrade_database(settings.app_database_url)
    return engine, keys


def open_key_store(settings: Settings, app_engine: Engine) -> SqlKeyStore:
    """The key database, with the data keys an older app database still holds moved in."""
    keys = SqlKeyStore(open_key_database(settings.key_db_url))
    move_app_keys(app_engine, keys)
    return keys


def make_vault(
    settings: Settings,
    engine: Engine,
    keys: SqlKeyStore,
    env: Mapping[str, str] | None = None,
) -> FileVault:
    """The vault on the master key (key file or environment), with per-request data keys in
    the key database wrapped by versioned KEKs (see storage/kek.py). Requests received before
    data keys and still open get theirs now, before any work on them."""
    secret, provider = kek_provider(settings, keys, env)
    vault = FileVault.from_secret(secret, keys=keys, ring=KekRing(provider, keys.versions))
    vault.ensure_keys(unkeyed_open_requests(engine, keys))
    return vault


def kek_provider(
    settings: Settings, keys: SqlKeyStore, env: Mapping[str, str] | None = None
) -> tuple[bytes, KekProvider]:
    """The master secret and the KEK provider; the key database gets its first KEK version."""
    env = os.environ if env is None else env
    secret, _source = master_secret(
        settings.master_key_file, settings.secret_key_file, settings.master_key_env, env
    )
    provider = load_provider(settings.kek_provider, secret, env)
    if not keys.versions():
        keys.add_version(1, provider.new_key_id(1))
    return secret, provider


@dataclass
class KeyAdmin:
    """What `rightsflow keys` works on: the key database, the KEKs, the app database (audit)."""

    keys: SqlKeyStore
    provider: KekProvider
    ring: KekRing
    uow: SqlUnitOfWorkFactory

    def close(self) -> None:
        self.keys.engine.dispose()
        self.uow.engine.dispose()


def open_key_admin(settings: Settings, env: Mapping[str, str] | None = None) -> KeyAdmin:
    engine, keys = open_databases(settings)
    _secret, provider = kek_provider(settings, keys, env)
    return KeyAdmin(keys, provider, KekRing(provider, keys.versions), SqlUnitOfWorkFactory(engine))


def client_service(settings: Settings, engine: Engine) -> ClientService:
    """OAuth2 clients and their access tokens (the signing key file is made if missing)."""
    tokens = JwtAccessTokens(
        settings.data_dir / KEYS_FILE,
        issuer=settings.api_base_url,
        audience=f"{settings.api_base_url}/api",
    )
    tokens.ensure_keys()
    return ClientService(
        store=SqlClientStore(engine),
        tokens=tokens,
        clock=utc_now,
        token_ttl_s=settings.access_token_ttl_s,
        status_cache_s=settings.client_status_cache_s,
    )


def make_consent_cache(settings: Settings) -> ConsentCache:
    """Redis when consent_cache_url is set (connects on first use), else in-process."""
    if settings.consent_cache_off:
        return NoConsentCache()
    if settings.consent_cache_url is None:
        return InProcessConsentCache()
    # redis-py loads only when Redis is configured (every CLI command imports this module).
    from rightsflow.storage.consent_cache_redis import RedisConsentCache  # noqa: PLC0415

    return RedisConsentCache(settings.consent_cache_url)


def make_notifier(
    settings: Settings, env: Mapping[str, str] | None = None
) -> FileOutbox | SmtpNotifier:
    """Mail through SMTP when smtp_host is set, else as .eml files in the data dir's outbox.

    Bad SMTP settings stop the start with InvalidInput (never echoing the password)."""
    if settings.smtp_host is None:
        return FileOutbox(settings.outbox_dir, sender=settings.mail_from)
    try:
        env = os.environ if env is None else env
        return SmtpNotifier(
            SmtpConfig(
                host=settings.smtp_host,
                port=settings.smtp_port,
                security=settings.smtp_security,
                username=settings.smtp_username,
                password=read_secret(settings.smtp_password_env, settings.smtp_password_file, env),
                mail_from=settings.mail_from,
                timeout_s=settings.smtp_timeout_s,
                ca_file=settings.smtp_ca_file,
            )
        )
    except ValidationError as exc:
        raise InvalidInput(f"invalid SMTP settings: {exc.errors()[0]['msg']}") from None
    except ValueError as exc:
        raise InvalidInput(f"invalid SMTP settings: {exc}") from None


def lifecycle_rules(settings: Settings) -> LifecycleRules:
    if "*" in settings.auto_approve:
        auto = frozenset(RequestType)
    else:
        try:
            auto = frozenset(RequestType(t) for t in settings.auto_approve)
        except ValueError:
            allowed = ", ".join(t.value for t in RequestType)
            raise InvalidInput(f"auto_approve takes '*' or: {allowed}", "auto_approve") from None
    return LifecycleRules(
        auto_approve=auto,
        verify_within=timedelta(days=settings.verify_within_days),
        remind_before=tuple(timedelta(days=d) for d in settings.remind_before_days),
        verification=verification_policy(settings),
    )


def verification_policy(settings: Settings) -> VerificationPolicy:
    return VerificationPolicy(
        ttl_s=settings.verification_code_ttl_s,
        max_attempts=settings.verification_max_attempts,
        resend_after_s=settings.verification_resend_after_s,
        max_sends=settings.verification_max_sends,
    )


def worker_tuning(settings: Settings) -> Tuning:
    return Tuning(
        coalesce_window_s=settings.coalesce_window_ms / 1000,
        coalesce_max_batch=settings.coalesce_max_batch,
        max_concurrent_activities=settings.worker_max_activities,
        max_concurrent_workflow_tasks=settings.worker_max_workflow_tasks,
    )


def step_policy(settings: Settings) -> StepPolicy:
    return StepPolicy(
        max_attempts=settings.step_max_attempts,
        initial_interval_s=settings.step_initial_interval_s,
        max_interval_s=settings.step_max_interval_s,
        timeout_s=settings.step_timeout_s,
    )
