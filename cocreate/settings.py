"""All configuration, read from COCREATE_* environment variables into one object.

Every variable is documented in README.md; tests/unit/test_settings.py fails when one is not.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cocreate.integers import int_or_none


class ConfigurationError(RuntimeError):
    """The environment does not describe a platform that can start."""


@dataclass(frozen=True)
class OIDCProvider:
    name: str
    label: str
    issuer: str
    client_id: str
    client_secret: str

    @property
    def metadata_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"


WILDCARD_HOSTS = ("", "0.0.0.0", "::")


def listening_url(host: str, port: int) -> str:
    """The address a server bound to `host`:`port` answers at, as a link would name it: the
    default COCREATE_BASE_URL of `cocreate serve` (a wildcard address is named `localhost`,
    which a link can open; a public site sets COCREATE_BASE_URL)."""
    if host in WILDCARD_HOSTS:
        host = "localhost"
    elif ":" in host and not host.startswith("["):  # an IPv6 address
        host = f"[{host}]"
    return f"http://{host}:{port}"


@dataclass(frozen=True)
class Settings:
    env: str = "dev"
    database_url: str = "sqlite:///data/cocreate.db"
    secret_key: str = ""
    base_url: str = "http://127.0.0.1:8000"
    data_dir: Path = Path("data")
    smtp_url: str | None = None
    mail_from: str = "cocreate <no-reply@cocreate.invalid>"
    redis_url: str | None = None
    oidc_providers: tuple[OIDCProvider, ...] = ()
    # Log-in attempts (cocreate/accounts/login_limits.py): per account from one address and
    # per address (both refuse past the limit), per account from anywhere (past it, a proof of
    # work is asked for, so that nobody can lock an account's owner out).
    login_rate_limit: str = "10/15 minutes"
    login_ip_rate_limit: str = "30/15 minutes"
    login_account_rate_limit: str = "10/15 minutes"
    signup_rate_limit: str = "20/hour"
    outbox_interval_seconds: float = 5.0
    trusted_proxies: tuple[str, ...] = field(default_factory=tuple)
    pow_max_number: int = 100_000  # proof-of-work difficulty: the browser tries half on average
    # The request model (cocreate/concurrency.py): handlers running at once, pooled database
    # connections, and how long a request waits for either (or for a CPU slot) before a 503.
    request_threads: int = 32
    db_pool_size: int = 10
    overload_wait_seconds: float = 5.0
    upload_rate_limit: str = "30/hour"  # image uploads per account
    image_decodes: int = 2  # image decodes at once in one process
    image_decode_wait_seconds: float = 3.0  # wait for a free decode, then "busy, try again"
    # Jobs (cocreate/jobs): `cocreate serve` runs a worker in each process unless told not to;
    # a job whose worker sent no heartbeat for `jobs_stalled_seconds` goes to another.
    jobs_worker: bool = True
    jobs_concurrency: int = 2
    jobs_poll_seconds: float = 1.0
    jobs_heartbeat_seconds: float = 5.0
    jobs_stalled_seconds: float = 30.0
    jobs_modules: tuple[str, ...] = ()  # more handler modules to import (plug-ins, tests)

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def https(self) -> bool:
        return self.base_url.startswith("https://")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        mode = env.get("COCREATE_ENV", "dev")
        if mode not in ("dev", "production"):
            raise ConfigurationError(f"COCREATE_ENV must be 'dev' or 'production', not {mode!r}")
        data_dir = Path(env.get("COCREATE_DATA_DIR", "data"))
        secret_key = env.get("COCREATE_SECRET_KEY", "")
        if not secret_key:
            if mode == "production":
                raise ConfigurationError(
                    "COCREATE_SECRET_KEY is not set. In production the key must come from the "
                    "environment (for example: python -c 'import secrets; "
                    "print(secrets.token_urlsafe(48))')."
                )
            secret_key = _dev_secret_key(data_dir)
        elif len(secret_key) < 32:
            raise ConfigurationError("COCREATE_SECRET_KEY must be at least 32 characters long.")
        database_url = env.get("COCREATE_DATABASE_URL", f"sqlite:///{data_dir / 'cocreate.db'}")
        # Every value is checked here, so a typo stops the start with a message naming the
        # variable, instead of a 500 on the first log-in or a silent mail outage.
        return cls(
            env=mode,
            database_url=database_url,
            secret_key=secret_key,
            base_url=(
                _url(env, "COCREATE_BASE_URL", ("http", "https"), cls.base_url) or cls.base_url
            ).rstrip("/"),
            data_dir=data_dir,
            smtp_url=_url(env, "COCREATE_SMTP_URL", ("smtp", "smtps")),
            mail_from=env.get("COCREATE_MAIL_FROM", cls.mail_from),
            redis_url=_url(env, "COCREATE_REDIS_URL", ("redis", "rediss", "unix")),
            oidc_providers=_oidc_providers(env),
            login_rate_limit=_rate_limit(env, "COCREATE_LOGIN_RATE_LIMIT", cls.login_rate_limit),
            login_ip_rate_limit=_rate_limit(
                env, "COCREATE_LOGIN_IP_RATE_LIMIT", cls.login_ip_rate_limit
            ),
            login_account_rate_limit=_rate_limit(
                env, "COCREATE_LOGIN_ACCOUNT_RATE_LIMIT", cls.login_account_rate_limit
            ),
            signup_rate_limit=_rate_limit(env, "COCREATE_SIGNUP_RATE_LIMIT", cls.signup_rate_limit),
            outbox_interval_seconds=_seconds(env, "COCREATE_OUTBOX_INTERVAL", "5"),
            trusted_proxies=tuple(
                p.strip() for p in env.get("COCREATE_TRUSTED_PROXIES", "").split(",") if p.strip()
            ),
            pow_max_number=_pow_max_number(env),
            request_threads=_count(env, "COCREATE_REQUEST_THREADS", cls.request_threads, 1, 1000),
            db_pool_size=_count(env, "COCREATE_DB_POOL_SIZE", cls.db_pool_size, 1, 1000),
            overload_wait_seconds=_seconds(env, "COCREATE_OVERLOAD_WAIT", "5"),
            upload_rate_limit=_rate_limit(env, "COCREATE_UPLOAD_RATE_LIMIT", cls.upload_rate_limit),
            image_decodes=_count(env, "COCREATE_IMAGE_DECODES", cls.image_decodes, 1, 64),
            image_decode_wait_seconds=_seconds(env, "COCREATE_IMAGE_DECODE_WAIT", "3"),
            **_jobs(env),
        )


def _url(
    env: Mapping[str, str], name: str, schemes: tuple[str, ...], default: str | None = None
) -> str | None:
    value = env.get(name) or default
    if value is None:
        return None
    scheme = value.partition("://")[0]
    if "://" not in value or scheme not in schemes:
        wanted = " or ".join(f"{s}://" for s in schemes)
        raise ConfigurationError(f"{name} must start with {wanted}, not {value!r}")
    return value


def _pow_max_number(env: Mapping[str, str]) -> int:
    value = env.get("COCREATE_POW_MAX_NUMBER", str(Settings.pow_max_number))
    number = int_or_none(value, minimum=1000, maximum=10_000_000)
    if number is None:
        raise ConfigurationError(
            f"COCREATE_POW_MAX_NUMBER must be a whole number from 1000 to 10000000, not {value!r}"
        )
    return number


def _rate_limit(env: Mapping[str, str], name: str, default: str) -> str:
    from limits import parse

    value = env.get(name, default)
    try:
        allowed = parse(value).amount
    except ValueError:
        allowed = 0
    if allowed < 1:
        raise ConfigurationError(
            f"{name} must be a number of attempts per period, like {default!r}; not {value!r}"
        )
    return value


def _count(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    value = env.get(name, str(default))
    if not value.isascii() or not value.isdecimal() or not low <= int(value) <= high:
        raise ConfigurationError(
            f"{name} must be a whole number from {low} to {high}, like {default}: {value!r}"
        )
    return int(value)


def _seconds(env: Mapping[str, str], name: str, default: str) -> float:
    value = env.get(name, default)
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < 86_400:  # also refuses "nan" and "inf"
        raise ConfigurationError(f"{name} must be a number of seconds like {default}: {value!r}")
    return seconds


def _jobs(env: Mapping[str, str]) -> dict[str, Any]:
    switch = env.get("COCREATE_JOBS_WORKER", "1")
    if switch not in ("0", "1"):
        raise ConfigurationError(f"COCREATE_JOBS_WORKER must be 1 or 0, not {switch!r}")
    heartbeat = _seconds(env, "COCREATE_JOBS_HEARTBEAT", "5")
    stalled = _seconds(env, "COCREATE_JOBS_STALLED", "30")
    if not 0 < heartbeat * 2 <= stalled:
        raise ConfigurationError(
            "COCREATE_JOBS_STALLED must be at least twice COCREATE_JOBS_HEARTBEAT (above 0), "
            f"not {stalled!r} and {heartbeat!r}"
        )
    poll = _seconds(env, "COCREATE_JOBS_POLL", "1")
    if poll <= 0:
        raise ConfigurationError(f"COCREATE_JOBS_POLL must be above 0 seconds, not {poll!r}")
    modules = tuple(m.strip() for m in env.get("COCREATE_JOBS_MODULES", "").split(",") if m.strip())
    return {
        "jobs_worker": switch == "1",
        "jobs_concurrency": _count(env, "COCREATE_JOBS_CONCURRENCY", 2, 1, 64),
        "jobs_poll_seconds": poll,
        "jobs_heartbeat_seconds": heartbeat,
        "jobs_stalled_seconds": stalled,
        "jobs_modules": modules,
    }


def _dev_secret_key(data_dir: Path) -> str:
    """In dev mode a key is generated once and kept in the data folder, so sessions survive."""
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


def _oidc_providers(env: Mapping[str, str]) -> tuple[OIDCProvider, ...]:
    names = [n.strip() for n in env.get("COCREATE_OIDC_PROVIDERS", "").split(",") if n.strip()]
    providers = []
    for name in names:
        if not name.isidentifier():
            raise ConfigurationError(f"OIDC provider name {name!r} must be letters, digits and _")
        prefix = f"COCREATE_OIDC_{name.upper()}_"
        missing = [k for k in ("ISSUER", "CLIENT_ID", "CLIENT_SECRET") if not env.get(prefix + k)]
        if missing:
            raise ConfigurationError(
                f"OIDC provider {name!r} needs " + ", ".join(prefix + k for k in missing)
            )
        providers.append(
            OIDCProvider(
                name=name.lower(),
                label=env.get(prefix + "LABEL", name.title()),
                issuer=env[prefix + "ISSUER"],
                client_id=env[prefix + "CLIENT_ID"],
                client_secret=env[prefix + "CLIENT_SECRET"],
            )
        )
    return tuple(providers)
