"""Settings read from GOVHUB_* environment variables, with safe defaults for one machine."""

from __future__ import annotations

import base64
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

VAR_DIR = Path("var")


def _local_secret(name: str, *, fernet: bool = False) -> SecretStr:
    """Read or create a random secret under var/ so one machine's workers and restarts agree."""
    path = VAR_DIR / f"{name}.secret"
    try:
        return SecretStr(path.read_text().strip())
    except FileNotFoundError:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        value = base64.urlsafe_b64encode(os.urandom(32)).decode() if fernet else secrets.token_urlsafe(32)
        # O_EXCL: if two workers race, the loser reads the winner's value.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return SecretStr(path.read_text().strip())
        with os.fdopen(fd, "w") as handle:
            handle.write(value)
        return SecretStr(value)


class Settings(BaseSettings):
    """Platform configuration; every field maps to GOVHUB_<FIELD>."""

    model_config = SettingsConfigDict(env_prefix="GOVHUB_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = f"sqlite+aiosqlite:///{VAR_DIR / 'govhub.db'}"
    database_pool_size: int = 10
    # Test each pooled connection before use (three round trips with asyncpg). Off: a connection
    # broken by a database restart fails one statement, and that error empties the whole pool.
    database_pre_ping: bool = True
    host: str = "127.0.0.1"
    port: int = 8000
    # The public origin people and relying parties see; the OIDC issuer is derived from it.
    base_url: str = ""
    # Signs CSRF tokens. Production must set it from a secret store; on one machine a random
    # value is kept in var/ so that restarts and several workers agree.
    secret_key: SecretStr = Field(default_factory=lambda: _local_secret("secret_key"))
    # Fernet keys (comma-separated, newest first) that encrypt secrets at rest: TOTP seeds,
    # signing keys. Older keys stay listed until everything is re-encrypted (rotation).
    data_keys: SecretStr = Field(default_factory=lambda: _local_secret("data_keys", fernet=True))
    # Keys the hash that names people in logs and audit records instead of their ID numbers.
    pii_hash_key: SecretStr = Field(default_factory=lambda: _local_secret("pii_hash_key"))

    # Jobs: "sqlite" keeps jobs in a file under var/ (durable, one machine); "redis" uses
    # the broker at job_redis_url; "immediate" runs them inline (tests only).
    job_backend: Literal["sqlite", "redis", "immediate"] = "sqlite"
    job_sqlite_path: str = str(VAR_DIR / "jobs.db")
    job_redis_url: str = "redis://127.0.0.1:6379/0"

    # Rate limits: storage URI for the `limits` library ("memory://" or "redis://...").
    rate_limit_storage_url: str = "memory://"
    sign_in_rate_per_ip: str = "30/minute"
    lockout_threshold: int = 5
    lockout_minutes: int = 15

    # Largest request body accepted (bytes); forms and API calls here are small. Contexts
    # that take uploads will raise it for their own routes.
    max_request_body_bytes: int = 256 * 1024

    session_idle_minutes: int = 30
    session_absolute_hours: int = 12
    # Cookies get the Secure flag and HSTS is sent when the site is served over HTTPS.
    https: bool = False

    password_min_length: int = 12
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 2
    # argon2id runs at most this many at once per web worker (each holds argon2_memory_kib).
    password_hash_threads: int = Field(default_factory=lambda: min(4, os.cpu_count() or 2))

    oidc_key_rotation_days: int = 90
    oidc_code_ttl_seconds: int = 60
    oidc_access_token_ttl_seconds: int = 3600
    # Token requests per client and source address: a brake on a leaked credential.
    oidc_token_rate_per_client: str = "300/minute"

    # If set, /metrics requires "Authorization: Bearer <token>" (scrapers outside the cluster).
    metrics_token: SecretStr | None = None

    default_locale: Literal["th", "en"] = "th"
    timezone: str = "Asia/Bangkok"
    log_level: str = "INFO"
    log_json: bool = True

    # Uploaded application documents: a directory outside the web root (never served statically).
    document_store_path: str = str(VAR_DIR / "documents")
    # Request bodies on upload routes may be this large (the rest keep max_request_body_bytes).
    max_upload_body_bytes: int = 21 * 1024 * 1024
    # Without smtp_host, email stays in the local outbox (shown at /account/messages).
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_starttls: bool = True
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    mail_from: str = "no-reply@govhub.local"

    # e-Payment. Callbacks are signed with HMAC-SHA256 over "<timestamp>.<body>" with the
    # provider's shared secret, and refused outside this window (seconds) either side of now.
    payment_bank_callback_secret: SecretStr = Field(default_factory=lambda: _local_secret("payment_bank_callback"))
    payment_sandbox_secret: SecretStr = Field(default_factory=lambda: _local_secret("payment_sandbox"))
    payment_callback_window_seconds: int = 300
    # The sandbox bank (a page that plays the bank) exists only when this is on; never in production.
    payment_sandbox_enabled: bool = True
    # Days a bill stays payable.
    bill_due_days: int = 15
    # Largest bank statement accepted for reconciliation.
    max_statement_bytes: int = 5 * 1024 * 1024

    # e-Documents. Production loads each agency's signing certificate from
    # <signing_pkcs12_dir>/<AGENCY CODE>.p12 (passphrase below); without it, the internal CA
    # that `govhub demo` creates signs. An RFC 3161 timestamp is embedded when tsa_url is set.
    signing_pkcs12_dir: str = ""
    signing_pkcs12_passphrase: SecretStr = SecretStr("")
    # PEM files of the CAs verification trusts, besides the internal CA (comma-separated).
    signing_trust_roots: str = ""
    tsa_url: str = ""
    issued_document_store_path: str = str(VAR_DIR / "issued")
    max_verify_upload_bytes: int = 10 * 1024 * 1024

    # Open data. Resource files are kept on local disk, or in an S3-compatible bucket
    # (credentials from the AWS_* environment variables; needs `pip install govhub[s3]`).
    opendata_storage: Literal["local", "s3"] = "local"
    opendata_storage_dir: str = str(VAR_DIR / "opendata")
    opendata_s3_bucket: str = ""
    opendata_s3_endpoint_url: str = ""
    opendata_s3_region: str = ""
    opendata_s3_prefix: str = ""
    # Largest resource file accepted, and the most a zip (zipped SHP) may expand to.
    opendata_max_resource_bytes: int = 100 * 1024 * 1024
    opendata_max_unzipped_bytes: int = 500 * 1024 * 1024
    # Datastore: where loaded tables live. Empty: a separate SQLite file beside the catalog's
    # (embedded default), or the `datastore` schema of the same PostgreSQL database.
    datastore_url: str = ""
    # datastore_search_sql runs read-only SELECTs on datastore tables only; off by default.
    datastore_sql_enabled: bool = False
    datastore_sql_timeout_ms: int = 5000
    # Search results are reused for this long per process while no dataset has changed (0: off).
    opendata_search_cache_seconds: int = 60
    # "memory": each web process answers package_search from an in-memory index kept current from
    # the database (opendata/search_memory.py); "database": FTS5 or PostgreSQL full-text search.
    opendata_search_engine: Literal["memory", "database"] = "memory"
    # Catalogs up to this many datasets are indexed in memory on the first search; larger ones in the
    # background, the database's engine answering until the index is ready.
    opendata_search_memory_inline_build: int = 20000
    # The link check visits only public addresses unless this is on (a portal inside a closed network).
    opendata_link_check_allow_private: bool = False
    # The public quality page's per-agency figures are recomputed at most this often per process.
    opendata_quality_cache_seconds: int = 600

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        """Accept plain postgresql:// and sqlite:// URLs and pick the async driver."""
        if value.startswith("postgresql://") or value.startswith("postgres://"):
            return "postgresql+asyncpg://" + value.split("://", 1)[1]
        if value.startswith("sqlite://"):
            return "sqlite+aiosqlite://" + value.split("://", 1)[1]
        return value

    @model_validator(mode="after")
    def _production_needs_real_secrets(self) -> "Settings":
        """Refuse to run production on machine-local secrets or the embedded database."""
        if self.environment == "production":
            missing = [
                name
                for name in (
                    "GOVHUB_SECRET_KEY",
                    "GOVHUB_PII_HASH_KEY",
                    "GOVHUB_DATA_KEYS",
                    "GOVHUB_BASE_URL",
                    "GOVHUB_PAYMENT_BANK_CALLBACK_SECRET",
                )
                if not os.environ.get(name)
            ]
            if missing:
                raise ValueError(f"production requires {', '.join(missing)}")
            if self.rate_limit_storage_url.startswith("memory"):
                # Per-process counters would let each web worker allow the full rate.
                raise ValueError("production requires GOVHUB_RATE_LIMIT_STORAGE_URL=redis://...")
            if self.payment_sandbox_enabled:
                # The sandbox bank marks bills paid on a click: never where real fees are due.
                raise ValueError("production requires GOVHUB_PAYMENT_SANDBOX_ENABLED=false")
        return self

    @property
    def is_sqlite(self) -> bool:
        """True when the embedded SQLite database is in use."""
        return self.database_url.startswith("sqlite")

    @property
    def public_url(self) -> str:
        """Origin without a trailing slash, used for absolute links and the OIDC issuer."""
        if self.base_url:
            return self.base_url.rstrip("/")
        scheme = "https" if self.https else "http"
        return f"{scheme}://{self.host}:{self.port}"


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings (cached; tests clear the cache to override)."""
    return Settings()
