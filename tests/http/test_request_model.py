"""The request model (cocreate/concurrency.py): the event loop never waits on the database,
a password hash or a busy worker; overload is a 503 to retry, never a freeze."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import NullPool, create_engine, text
from sqlalchemy.engine import Connection, Engine
from starlette.testclient import TestClient

from cocreate.accounts.models import User
from cocreate.app import create_app
from cocreate.clock import FrozenClock
from cocreate.concurrency import Slots, holds_connection
from cocreate.security import passwords
from cocreate.settings import Settings
from tests.conftest import csrf_from, log_in, post_form


@contextmanager
def lock_held_on(engine: Engine, user_id: int) -> Iterator[Connection]:
    """Another connection holds what a write to the account's row must wait for: SQLite's
    write lock, or PostgreSQL's lock on that row."""
    outside = create_engine(engine.url, poolclass=NullPool)
    try:
        with outside.connect() as connection:
            if engine.dialect.name == "sqlite":
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                connection.execute(
                    text("SELECT id FROM users WHERE id = :id FOR UPDATE"), {"id": user_id}
                )
            yield connection
            connection.rollback()
    finally:
        outside.dispose()


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def test_pages_are_answered_while_a_handler_waits_on_the_database(
    client: TestClient, make_user: Callable[..., User], engine: Engine
) -> None:
    user = make_user()
    assert user.id is not None
    log_in(client, user)
    token = csrf_from(client, "/account")
    anonymous = TestClient(client.app, base_url="http://testserver")
    with ThreadPoolExecutor(1) as pool:
        with lock_held_on(engine, user.id):
            # Choosing a language writes the account's row: it waits for the lock, in a thread.
            waiting = pool.submit(
                client.post, "/language", data={"csrf_token": token, "locale": "fr", "next": "/"}
            )
            time.sleep(0.3)
            assert not waiting.done()
            health, took = timed(lambda: client.get("/healthz"))
            assert health.status_code == 200 and took < 1.0
            home, took = timed(lambda: anonymous.get("/"))
            assert home.status_code == 200 and took < 2.0
            assert not waiting.done()
        assert waiting.result(timeout=10).status_code == 303


@pytest.fixture
def tight_app(settings: Settings, engine: Engine, clock: FrozenClock) -> Any:
    """One request thread, one pooled connection, and a short wait."""
    return create_app(
        replace(settings, request_threads=1, db_pool_size=1, overload_wait_seconds=0.3),
        clock=clock,
    )


def test_a_request_that_finds_no_thread_gets_a_503_to_retry(
    tight_app: Any, engine: Engine, make_user: Callable[..., User]
) -> None:
    user = make_user()
    assert user.id is not None
    with TestClient(tight_app, base_url="http://testserver", follow_redirects=False) as client:
        log_in(client, user)
        token = csrf_from(client, "/account")
        other = TestClient(tight_app, base_url="http://testserver", follow_redirects=False)
        with ThreadPoolExecutor(1) as pool, lock_held_on(engine, user.id):
            waiting = pool.submit(
                client.post, "/language", data={"csrf_token": token, "locale": "fr", "next": "/"}
            )
            time.sleep(0.2)  # the only thread now waits on the lock
            busy, took = timed(lambda: other.get("/", headers={"accept-language": "fr"}))
            assert busy.status_code == 503
            assert busy.headers["retry-after"].isdecimal()
            assert "Très forte affluence" in busy.text
            assert took < 2.0
            assert client.get("/healthz").status_code == 200
            ready = client.get("/readyz")
            assert ready.status_code == 503 and ready.json()["status"] == "saturated"
        assert waiting.result(timeout=10).status_code == 303
        assert other.get("/").status_code == 200
        assert client.get("/readyz").status_code == 200


class _WatchedSlots(Slots):
    """Slots that note, at each entry, whether the thread held a pooled connection."""

    def __init__(self) -> None:
        super().__init__("watched hashing", size=2, wait=1)
        self.held: list[bool] = []

    @contextmanager
    def __call__(self) -> Iterator[None]:
        self.held.append(holds_connection())
        with super().__call__():
            yield


def test_no_connection_is_held_while_a_password_is_hashed(
    client: TestClient, make_user: Callable[..., User], monkeypatch: pytest.MonkeyPatch
) -> None:
    user = make_user()
    watched = _WatchedSlots()
    monkeypatch.setattr(passwords, "HASHING", watched)
    log_in(client, user)  # the account is read first, then its password checked
    newcomer = TestClient(client.app, base_url="http://testserver", follow_redirects=False)
    signed_up = post_form(
        newcomer,
        "/signup",
        {"email": "new@example.com", "display_name": "New", "password": "a long new password"},
        page="/signup",
    )
    assert signed_up.status_code == 200
    assert watched.held == [False, False]
