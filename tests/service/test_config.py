"""Settings: environment names, safe defaults, and the refusals."""

from __future__ import annotations

import pytest

from service.core.config import Settings, is_loopback, load_settings
from service.core.errors import InvalidSettingsError


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", True),  # the usual loopback
        ("127.3.2.1", True),  # all of 127.0.0.0/8
        ("::1", True),  # IPv6 loopback
        ("localhost", True),  # the name
        ("0.0.0.0", False),  # every interface
        ("192.0.2.10", False),  # a public address
        ("example.org", False),  # a name we cannot vouch for
    ],
)
def test_is_loopback(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected


def test_public_address_without_keys_is_refused() -> None:
    with pytest.raises(InvalidSettingsError, match="refusing to bind to 0.0.0.0 without API keys"):
        load_settings(host="0.0.0.0", api_keys=[])


def test_public_address_with_keys_is_allowed() -> None:
    settings = load_settings(host="0.0.0.0", api_keys=["k" * 16])
    assert settings.host == "0.0.0.0"


def test_short_keys_are_refused() -> None:
    with pytest.raises(InvalidSettingsError, match="at least 16 characters"):
        load_settings(api_keys=["short"])


def test_environment_names(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("FINDER_API_KEYS", "first-key-0123456789, second-key-0123456789")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db:5432/finder")
    monkeypatch.setenv("RAY_ADDRESS", "ray-head:6379")
    monkeypatch.setenv("FINDER_MAX_ATTEMPTS", "5")
    monkeypatch.setenv("FINDER_DATA_DIR", str(tmp_path))
    settings = Settings()
    assert settings.api_keys == ["first-key-0123456789", "second-key-0123456789"]
    assert settings.database_url == "postgresql://u:p@db:5432/finder"
    assert settings.ray_address == "ray-head:6379"
    assert settings.max_attempts == 5
    assert settings.data_dir == tmp_path


def test_finder_prefixed_names_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@other/db")
    monkeypatch.setenv("FINDER_DATABASE_URL", "postgresql://u:p@mine/db")
    monkeypatch.setenv("RAY_ADDRESS", "")
    settings = Settings()
    assert settings.database_url == "postgresql://u:p@mine/db"
    assert settings.ray_address is None


def test_relative_sqlite_path_is_made_absolute(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings(database_url="sqlite:///state/jobs.db")
    assert settings.database_url == f"sqlite:///{tmp_path}/state/jobs.db"


def test_invalid_values_name_the_setting() -> None:
    with pytest.raises(InvalidSettingsError, match="max_attempts"):
        load_settings(max_attempts=0)


def test_bounds_and_retention_are_finite_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings()
    assert (settings.max_queued_jobs, settings.max_queued_per_key) == (100, 20)
    assert settings.max_running_per_key == 2
    assert settings.retention_s == 7 * 24 * 3600 and settings.idempotency_ttl_s == 24 * 3600
    monkeypatch.setenv("FINDER_MAX_QUEUED_JOBS", "7")
    monkeypatch.setenv("FINDER_MAX_QUEUED_PER_KEY", "3")
    monkeypatch.setenv("FINDER_MAX_RUNNING_PER_KEY", "1")
    monkeypatch.setenv("FINDER_RETENTION_S", "60")
    settings = Settings()
    assert (settings.max_queued_jobs, settings.max_queued_per_key) == (7, 3)
    assert (settings.max_running_per_key, settings.retention_s) == (1, 60)
    with pytest.raises(InvalidSettingsError, match="max_queued_per_key"):
        load_settings(max_queued_per_key=0)


def test_every_setting_is_documented() -> None:
    from pathlib import Path

    from pydantic import AliasChoices

    docs = (Path(__file__).parents[2] / "docs" / "service.md").read_text()
    missing = []
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        names = (
            [c for c in alias.choices if isinstance(c, str) and c.isupper()]
            if isinstance(alias, AliasChoices)
            else [f"FINDER_{name.upper()}"]
        )
        if not any(f"`{variable}`" in docs for variable in names):
            missing.append(names[0])
    assert missing == []
