"""Settings come from COCREATE_* variables; a bad one stops the start with a clear message."""

from __future__ import annotations

import re
import stat
from collections.abc import Mapping
from pathlib import Path

import pytest

from cocreate.settings import ConfigurationError, Settings

ROOT = Path(__file__).resolve().parents[2]
KEY = "k" * 40


class RecordingEnv(dict[str, str]):
    """An environment that remembers every variable the settings asked for."""

    def __init__(self, values: Mapping[str, str]) -> None:
        super().__init__(values)
        self.asked: set[str] = set()

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.asked.add(key)
        return super().__contains__(key)


def test_production_without_a_secret_key_is_a_clear_start_up_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="COCREATE_SECRET_KEY is not set"):
        Settings.from_env({"COCREATE_ENV": "production", "COCREATE_DATA_DIR": str(tmp_path)})
    assert not (tmp_path / "secret_key").exists(), "production must not invent a key"


def test_a_short_secret_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="at least 32 characters"):
        Settings.from_env({"COCREATE_ENV": "production", "COCREATE_SECRET_KEY": "short"})


def test_production_with_a_key_starts(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"COCREATE_ENV": "production", "COCREATE_SECRET_KEY": KEY, "COCREATE_DATA_DIR": "x"}
    )
    assert settings.production and settings.secret_key == KEY


def test_dev_generates_a_key_once_and_keeps_it_in_the_data_folder(tmp_path: Path) -> None:
    env = {"COCREATE_DATA_DIR": str(tmp_path / "data")}
    first = Settings.from_env(env).secret_key
    assert len(first) >= 32
    kept = tmp_path / "data" / "secret_key"
    assert kept.read_text().strip() == first
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600, "only the owner may read the key"
    assert Settings.from_env(env).secret_key == first  # sessions survive a restart
    other = Settings.from_env({"COCREATE_DATA_DIR": str(tmp_path / "other")}).secret_key
    assert other != first


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="COCREATE_ENV must be 'dev' or 'production'"):
        Settings.from_env({"COCREATE_ENV": "prod", "COCREATE_SECRET_KEY": KEY})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("COCREATE_LOGIN_RATE_LIMIT", "ten per quarter hour"),
        ("COCREATE_LOGIN_RATE_LIMIT", "0/hour"),
        ("COCREATE_LOGIN_IP_RATE_LIMIT", "many"),
        ("COCREATE_LOGIN_ACCOUNT_RATE_LIMIT", "0/15 minutes"),
        ("COCREATE_SIGNUP_RATE_LIMIT", "20/fortnight"),
        ("COCREATE_OUTBOX_INTERVAL", "five"),
        ("COCREATE_OUTBOX_INTERVAL", "-1"),
        ("COCREATE_OUTBOX_INTERVAL", "nan"),
        ("COCREATE_BASE_URL", "cocreate.example"),
        ("COCREATE_BASE_URL", "ftp://cocreate.example"),
        ("COCREATE_SMTP_URL", "mail.example:587"),
        ("COCREATE_REDIS_URL", "127.0.0.1:6379"),
        ("COCREATE_POW_MAX_NUMBER", "lots"),
        ("COCREATE_POW_MAX_NUMBER", "999"),
        ("COCREATE_POW_MAX_NUMBER", "10000001"),
        ("COCREATE_UPLOAD_RATE_LIMIT", "lots"),
        ("COCREATE_IMAGE_DECODES", "0"),
        ("COCREATE_IMAGE_DECODES", "two"),
        ("COCREATE_IMAGE_DECODE_WAIT", "-1"),
    ],
)
def test_a_bad_value_is_a_start_up_error_naming_the_variable(name: str, value: str) -> None:
    """Not a 500 at the first log-in, nor mail that silently never leaves."""
    with pytest.raises(ConfigurationError, match=name):
        Settings.from_env({"COCREATE_SECRET_KEY": KEY, name: value})


def test_good_values_are_read() -> None:
    settings = Settings.from_env(
        {
            "COCREATE_SECRET_KEY": KEY,
            "COCREATE_BASE_URL": "https://vote.example/",
            "COCREATE_SMTP_URL": "smtps://u:p@mail.example:465",
            "COCREATE_REDIS_URL": "redis://127.0.0.1:6379/0",
            "COCREATE_LOGIN_RATE_LIMIT": "5/minute",
            "COCREATE_LOGIN_IP_RATE_LIMIT": "100/hour",
            "COCREATE_LOGIN_ACCOUNT_RATE_LIMIT": "20/15 minutes",
            "COCREATE_OUTBOX_INTERVAL": "0",
            "COCREATE_TRUSTED_PROXIES": "10.0.0.1, 10.0.0.2,",
            "COCREATE_POW_MAX_NUMBER": "250000",
            "COCREATE_UPLOAD_RATE_LIMIT": "5/hour",
            "COCREATE_IMAGE_DECODES": "4",
            "COCREATE_IMAGE_DECODE_WAIT": "0.5",
        }
    )
    assert settings.upload_rate_limit == "5/hour"
    assert (settings.image_decodes, settings.image_decode_wait_seconds) == (4, 0.5)
    assert settings.pow_max_number == 250_000
    assert settings.base_url == "https://vote.example" and settings.https
    assert settings.smtp_url == "smtps://u:p@mail.example:465"
    assert settings.login_rate_limit == "5/minute"
    assert settings.login_ip_rate_limit == "100/hour"
    assert settings.login_account_rate_limit == "20/15 minutes"
    assert settings.outbox_interval_seconds == 0
    assert settings.trusted_proxies == ("10.0.0.1", "10.0.0.2")


def test_an_oidc_provider_without_its_variables_names_what_is_missing() -> None:
    with pytest.raises(ConfigurationError, match="COCREATE_OIDC_ACME_CLIENT_SECRET"):
        Settings.from_env(
            {
                "COCREATE_SECRET_KEY": KEY,
                "COCREATE_OIDC_PROVIDERS": "acme",
                "COCREATE_OIDC_ACME_ISSUER": "https://id.acme.example",
                "COCREATE_OIDC_ACME_CLIENT_ID": "cocreate",
            }
        )


def documented_variables() -> set[str]:
    readme = (ROOT / "README.md").read_text()
    return set(re.findall(r"`(COCREATE_[A-Z0-9_<>]+)`", readme))


def test_every_variable_the_settings_read_is_documented_in_the_readme(tmp_path: Path) -> None:
    env = RecordingEnv(
        {
            "COCREATE_DATA_DIR": str(tmp_path),
            "COCREATE_OIDC_PROVIDERS": "acme",
            "COCREATE_OIDC_ACME_ISSUER": "https://id.acme.example",
            "COCREATE_OIDC_ACME_CLIENT_ID": "cocreate",
            "COCREATE_OIDC_ACME_CLIENT_SECRET": "s3cret",
        }
    )
    Settings.from_env(env)
    asked = {name.replace("_ACME_", "_<NAME>_") for name in env.asked}
    assert "COCREATE_SECRET_KEY" in asked and "COCREATE_OIDC_<NAME>_LABEL" in asked
    undocumented = sorted(asked - documented_variables())
    assert not undocumented, f"document these in README.md's configuration table: {undocumented}"


def test_every_variable_named_in_the_code_is_documented_in_the_readme() -> None:
    """Also catches a variable read elsewhere than settings.py (os.environ in some module)."""
    named: set[str] = set()
    for path in (ROOT / "cocreate").rglob("*.py"):
        source = path.read_text()
        named |= set(re.findall(r"[\"'](COCREATE_[A-Z0-9_]*[A-Z0-9])[\"']", source))
    assert "COCREATE_DATABASE_URL" in named
    undocumented = sorted(named - documented_variables())
    assert not undocumented, f"document these in README.md's configuration table: {undocumented}"
