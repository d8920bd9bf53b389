"""One fixture chain: database URL -> migrated engine -> app -> client, on SQLite and PostgreSQL.

Every test that touches the database runs twice, once per backend (`[sqlite]`,
`[postgresql]`). Each PostgreSQL run creates a database of its own and drops it at the end.
Tables are emptied after each test rather than rolled back, because HTTP, browser and
concurrency tests commit from other connections and processes.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import socket
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any, TypeVar

import httpx2
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import NullPool, create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, SQLModel
from starlette.testclient import TestClient

import cocreate.models  # noqa: F401
from cocreate.accounts.models import User
from cocreate.app import create_app
from cocreate.clock import FrozenClock
from cocreate.db import make_engine
from cocreate.migrate import upgrade
from cocreate.security.passwords import hash_password
from cocreate.settings import OIDCProvider, Settings
from tests.oidc_provider import Provider, running_provider

# Fixture modules shared by several test folders (registered here, the root conftest).
pytest_plugins = ["tests.ideas_fixtures"]

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PG_URL = os.environ.get(
    "COCREATE_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
PASSWORD = "correct horse battery staple"
_PASSWORD_HASH = hash_password(PASSWORD)  # hashed once: argon2 costs ~0.2 s a call


T = TypeVar("T")


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(coroutine)` in a thread of its own: the browser tests' Playwright (sync
    API) keeps an event loop running in the main thread, where asyncio.run cannot start one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _unavailable(what: str, why: str) -> None:
    message = f"{what} is not available ({why})"
    if IN_CI:
        pytest.fail(f"{message}: required when CI=true")
    pytest.skip(f"!!! SKIPPED: {message}. Install it to run these tests.")


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        return
    admin_url = make_url(PG_URL)
    name = f"cocreate_test_{os.getpid()}_{secrets.token_hex(4)}"
    try:
        admin = make_engine(
            admin_url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001  (any failure to reach the server)
        _unavailable("PostgreSQL at " + admin_url.render_as_string(), str(exc).splitlines()[0])
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def migrated_engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def close_every_connection(engine: Engine) -> None:
    """PostgreSQL: what a restart or an idle timeout does to a pool. The server closes every
    connection to the database (asked from a connection outside the pool)."""
    outside = create_engine(engine.url, poolclass=NullPool)
    try:
        with outside.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
    finally:
        outside.dispose()


def empty_tables(engine: Engine) -> None:
    tables = [t.name for t in SQLModel.metadata.sorted_tables]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(
                text(
                    "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"
                )
            )
        else:
            for table in reversed(tables):
                conn.execute(text(f'DELETE FROM "{table}"'))


@pytest.fixture
def engine(migrated_engine: Engine) -> Iterator[Engine]:
    yield migrated_engine
    empty_tables(migrated_engine)


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@dataclass
class Mailbox:
    """What a real SMTP server (aiosmtpd on 127.0.0.1) received."""

    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == address]

    def last_link(self, address: str) -> str:
        mails = self.to(address)
        assert mails, f"no mail to {address}; got {[m['To'] for m in self.messages]}"
        body = mails[-1].get_payload(decode=True)
        assert isinstance(body, bytes)
        links = re.findall(r"https?://\S+", body.decode())
        assert links, f"no link in mail: {body!r}"
        return str(links[-1])


@pytest.fixture
def smtp() -> Iterator[tuple[str, Mailbox]]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{port}", mailbox
    finally:
        controller.stop()


@pytest.fixture
def mailbox(smtp: tuple[str, Mailbox]) -> Mailbox:
    return smtp[1]


@pytest.fixture
def settings(database_url: str, smtp: tuple[str, Mailbox], tmp_path: Path) -> Settings:
    return Settings(
        env="dev",
        database_url=database_url,
        secret_key="test-secret-key-" + "x" * 32,
        base_url="http://testserver",
        data_dir=tmp_path,
        smtp_url=smtp[0],
        outbox_interval_seconds=0,  # tests deliver explicitly with `deliver`
        jobs_worker=False,  # tests run the queued jobs explicitly with `run_jobs`
    )


@pytest.fixture
def app(settings: Settings, engine: Engine, clock: FrozenClock) -> Any:
    return create_app(settings, clock=clock)


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as c:
        yield c


@pytest.fixture
def deliver(app: Any, settings: Settings, clock: FrozenClock) -> Callable[[], int]:
    from cocreate.notifications.service import deliver_due

    def run() -> int:
        return deliver_due(app.state.db.engine, settings.smtp_url, settings.mail_from, clock=clock)

    return run


@pytest.fixture
def run_jobs(app: Any) -> Callable[[], None]:
    """Run every queued job now, through the app's real backend (SQLite's runner or a
    procrastinate worker that stops once the queue is empty), with the test's clock."""
    return app.state.jobs.run_pending  # type: ignore[no-any-return]


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(client: httpx2.Client, path: str = "/login") -> str:
    """The CSRF token of the client's session, read from a page's form as a browser would."""
    response = client.get(path)
    found = _CSRF.search(response.text)
    assert found, f"no csrf token on {path} ({response.status_code})"
    return found.group(1)


def post_form(
    client: httpx2.Client,
    path: str,
    data: dict[str, Any] | None = None,
    *,
    page: str = "/login",
    **kwargs: Any,
) -> Any:
    return client.post(path, data={"csrf_token": csrf_from(client, page), **(data or {})}, **kwargs)


@pytest.fixture
def make_user(session: Session, clock: FrozenClock) -> Callable[..., User]:
    counter = iter(range(1, 10_000))

    def make(
        email: str | None = None,
        *,
        verified: bool = True,
        admin: bool = False,
        name: str | None = None,
    ) -> User:
        n = next(counter)
        user = User(
            email=email or f"user{n}@example.com",
            display_name=name or f"User {n}",
            password_hash=_PASSWORD_HASH,
            email_verified_at=clock.now() if verified else None,
            is_admin=admin,
            created_at=clock.now(),
        )
        session.add(user)
        session.commit()
        return user

    return make


def log_in(client: httpx2.Client, user: User, password: str = PASSWORD) -> None:
    response = post_form(client, "/login", {"email": user.email, "password": password})
    assert response.status_code == 303, response.text


def reload(session: Session, obj: Any) -> None:
    """See what other connections committed: end our snapshot (SQLite WAL keeps it), re-read."""
    session.rollback()
    session.refresh(obj)


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    """A real OpenID Connect provider on 127.0.0.1, shared by the whole run (use fresh subjects)."""
    log_path = tmp_path_factory.mktemp("oidc") / "provider.log"
    with running_provider(free_port(), log_path) as provider:
        yield provider


def oidc_config(
    provider: Provider, *, name: str = "mockid", label: str = "Mock ID"
) -> OIDCProvider:
    """The platform's configuration for `provider` (it accepts any client id and secret)."""
    return OIDCProvider(
        name=name,
        label=label,
        issuer=provider.issuer,
        client_id="cocreate-tests",
        client_secret="cocreate-tests-secret",
    )
