"""The service's settings: one pydantic-settings class, read from `FINDER_*` environment variables.

Nothing else in the service reads `os.environ`. Two variables keep their conventional names as
well: `DATABASE_URL` (for `FINDER_DATABASE_URL`) and `RAY_ADDRESS` (for `FINDER_RAY_ADDRESS`).
`FINDER_DATA_DIR` is still read for `FINDER_UPLOADS_DIR` but deprecated: the library reads it as
its Fashion-MNIST folder, so one variable set for both moved files of one into the other.

```
FINDER_API_KEYS=key-one,key-two      bearer / X-API-Key keys; each key owns its jobs
FINDER_HOST=127.0.0.1 FINDER_PORT=8000
FINDER_DATABASE_URL=sqlite:///finder-service/jobs.db   or postgresql://user:pw@host/db
FINDER_UPLOADS_DIR=finder-service    uploads and rendered curves (shared by API and workers)
FINDER_RAY_ADDRESS=                  empty: start a local Ray; host:port: join that cluster
FINDER_MAX_QUEUED_JOBS=100 FINDER_MAX_QUEUED_PER_KEY=20 FINDER_MAX_RUNNING_PER_KEY=2
FINDER_RETENTION_S=604800            finished jobs and unused uploads older than this go
FINDER_UPLOAD_QUOTA_MB=1024          stored uploads per key
FINDER_DRAIN_GRACE_S=20              on SIGTERM, running jobs get this long before going back
```

Every setting, with its meaning, is listed in docs/service.md.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from service.core.errors import InvalidSettingsError

LOOPBACK_NAMES = frozenset({"localhost", "ip6-localhost", "ip6-loopback"})
MIB = 1 << 20


def is_loopback(host: str) -> bool:
    """Whether `host` names only this machine (127.0.0.0/8, ::1, localhost)."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Settings(BaseSettings):
    """Everything the API, the dispatcher and the job processes are configured with."""

    model_config = SettingsConfigDict(env_prefix="FINDER_", extra="ignore", frozen=True)

    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="API keys, comma-separated in the environment. Empty: no authentication, "
        "which is only allowed on a loopback address.",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    database_url: str = Field(
        default="sqlite:///finder-service/jobs.db",
        validation_alias=AliasChoices("FINDER_DATABASE_URL", "DATABASE_URL", "database_url"),
    )
    data_dir: Path = Field(
        default=Path("finder-service"),
        validation_alias=AliasChoices("FINDER_UPLOADS_DIR", "FINDER_DATA_DIR", "data_dir"),
        description="Uploads and rendered curves, shared by the API and every job process.",
    )
    ray_address: str | None = Field(
        default=None,
        validation_alias=AliasChoices("FINDER_RAY_ADDRESS", "RAY_ADDRESS", "ray_address"),
        description="An existing Ray cluster (host:port); None starts a local Ray.",
    )
    ray_num_cpus: int | None = Field(
        default=None, ge=1, description="CPUs of the local Ray (None: all of this machine's)."
    )
    run_dispatcher: bool = Field(
        default=True, description="Run a dispatcher inside the API process (`finder serve`)."
    )
    max_running_jobs: int = Field(default=2, ge=1, description="Jobs one dispatcher runs at once.")
    max_attempts: int = Field(
        default=3, ge=1, description="Attempts per job before it is marked failed."
    )
    job_num_cpus: float = Field(default=1.0, gt=0)
    job_num_gpus: float = Field(default=0.0, ge=0)
    job_timeout_s: float = Field(
        default=3600.0, gt=0, description="A job running longer than this is stopped and failed."
    )
    poll_interval_s: float = Field(default=0.2, gt=0, description="Dispatcher loop period.")
    dispatcher_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="A dispatcher silent for this long is presumed dead; its jobs are requeued.",
    )
    progress_interval_s: float = Field(
        default=0.25, ge=0, description="Least time between two progress writes of a job."
    )
    max_upload_bytes: int = Field(default=256 * MIB, ge=1, description="Cap on a request body.")
    max_uncompressed_bytes: int = Field(
        default=1024 * MIB, ge=1, description="Cap on an uploaded archive's uncompressed size."
    )
    max_archive_members: int = Field(default=64, ge=1)
    cache_entries: int = Field(
        default=1024, ge=0, description="Finished jobs kept in memory for GET /jobs/{id} (0: off)."
    )
    cache_bytes: int = Field(default=256 * MIB, ge=0, description="Memory cap of that cache.")
    db_pool_size: int = Field(default=10, ge=1, description="Database connections kept open.")
    max_queued_jobs: int = Field(
        default=100, ge=1, description="Queued jobs over all keys; past it a submission is 429."
    )
    max_queued_per_key: int = Field(
        default=20, ge=1, description="Queued jobs of one API key; past it a submission is 429."
    )
    max_running_per_key: int = Field(
        default=2,
        ge=1,
        description="Running jobs of one API key: a dispatcher claims no more of its jobs, and "
        "claims other keys' jobs instead.",
    )
    retry_after_s: int = Field(
        default=5, ge=1, description="The Retry-After (seconds) of a 429 for a full queue."
    )
    idempotency_ttl_s: float = Field(
        default=24 * 3600.0,
        gt=0,
        description="How long an Idempotency-Key is remembered (a later reuse starts afresh).",
    )
    retention_s: float = Field(
        default=7 * 24 * 3600.0,
        gt=0,
        description="Finished jobs, and uploads no job names, older than this are deleted.",
    )
    sweep_interval_s: float = Field(
        default=300.0, gt=0, description="Period of the API's retention sweep."
    )
    upload_quota_mb: float = Field(
        default=1024.0,
        gt=0,
        description="Total size of one API key's stored uploads (MiB); past it an upload is 413.",
    )
    drain_grace_s: float = Field(
        default=20.0,
        ge=0,
        description="On SIGTERM, how long running jobs may go on to finish before they are "
        "handed back to the queue (no attempt used); meanwhile job submissions are 503.",
    )

    @field_validator("api_keys", mode="before")
    @classmethod
    def split_keys(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [key.strip() for key in value.split(",") if key.strip()]
        return value

    @field_validator("api_keys")
    @classmethod
    def check_keys(cls, keys: list[str]) -> list[str]:
        short = [key for key in keys if len(key) < 16]
        if short:
            raise ValueError("every API key must have at least 16 characters")
        return keys

    @field_validator("ray_address", mode="before")
    @classmethod
    def empty_is_local(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("database_url")
    @classmethod
    def absolute_sqlite_path(cls, url: str) -> str:
        # Job processes may start in another directory: a relative SQLite path must not move.
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/"):
            path = url[len(prefix) :]
            if path and path != ":memory:" and not path.startswith("file:"):
                return prefix + str(Path(path).resolve())
        return url

    @field_validator("data_dir")
    @classmethod
    def absolute_data_dir(cls, path: Path) -> Path:
        return path.resolve()

    @model_validator(mode="after")
    def refuse_public_without_keys(self) -> Settings:
        if not self.api_keys and not is_loopback(self.host):
            raise ValueError(
                f"refusing to bind to {self.host} without API keys: set FINDER_API_KEYS or "
                "bind to 127.0.0.1"
            )
        return self

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def results_dir(self) -> Path:
        return self.data_dir / "results"


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment plus `overrides`, with a one-line error when invalid.

    Raises:
        InvalidSettingsError: naming each offending setting.
    """
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        reasons = "; ".join(
            ".".join(str(p) for p in error["loc"] if p != "__root__") + ": " + message
            if error["loc"]
            else message
            for error in exc.errors()
            for message in [error["msg"].removeprefix("Value error, ")]
        )
        raise InvalidSettingsError(f"Invalid service settings: {reasons}") from None
