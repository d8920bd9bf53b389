"""The log-in limits against a racing guesser and a distributed one (accounts/login_limits.py),
through the service with the real password check on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import secrets
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis
from sqlalchemy.engine import Engine
from sqlmodel import Session

from cocreate.accounts import service
from cocreate.accounts.login_limits import LoginAttempt, Outcome, attempt_log_in
from cocreate.accounts.models import User
from cocreate.clock import FrozenClock
from cocreate.fraud import challenge
from cocreate.security.ratelimit import RateLimiter
from cocreate.settings import Settings
from tests.conftest import IN_CI, PASSWORD

REDIS_URL = "redis://127.0.0.1:6379/0"
GUESSES = 60


@pytest.fixture(params=["memory", "redis"])
def limiter(request: pytest.FixtureRequest) -> Iterator[RateLimiter]:
    """Both stores the limits run on: process memory, and Redis shared by every worker."""
    if request.param == "memory":
        yield RateLimiter()
        return
    try:
        server = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        server.ping()
    except redis.RedisError as exc:
        if IN_CI:
            pytest.fail(f"Redis at {REDIS_URL} is required when CI=true: {exc}")
        pytest.skip(f"!!! SKIPPED: Redis at {REDIS_URL} is not available ({exc})")
    prefix = f"cocreate-test-{secrets.token_hex(6)}"
    try:
        yield RateLimiter(REDIS_URL, key_prefix=prefix)
    finally:
        keys = list(server.scan_iter(f"{prefix}*"))
        if keys:
            server.delete(*keys)
        server.close()


class CountingCheck:
    """The password check the service runs (account read and argon2), counted."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, email: str, password: str) -> Callable[[], User | None]:
        def check() -> User | None:
            with self.lock:
                self.calls += 1
            with Session(self.engine) as session:
                return service.authenticate(session=session, email=email, password=password)

        return check


def attempt(
    limiter: RateLimiter,
    settings: Settings,
    clock: FrozenClock,
    check: CountingCheck,
    *,
    email: str,
    address: str,
    password: str = "not the password",
    proof: str = "",
) -> LoginAttempt:
    return attempt_log_in(
        limiter=limiter,
        settings=settings,
        email=email,
        address=address,
        proof=proof,
        now=clock.now(),
        check_password=check(email, password),
    )


def test_parallel_guesses_from_one_address_are_checked_at_most_the_limit(
    engine: Engine,
    make_user: Callable[..., User],
    limiter: RateLimiter,
    settings: Settings,
    clock: FrozenClock,
) -> None:
    user = make_user("raced@example.com")
    assert user.email is not None
    email = user.email
    check = CountingCheck(engine)
    start = threading.Barrier(GUESSES)

    def guess(_: int) -> Outcome:
        start.wait()  # every guess in flight together, as 60 parallel requests
        return attempt(limiter, settings, clock, check, email=email, address="203.0.113.66").outcome

    with ThreadPoolExecutor(GUESSES) as pool:
        outcomes = list(pool.map(guess, range(GUESSES)))

    limit = 10  # COCREATE_LOGIN_RATE_LIMIT's default, per account and address
    assert check.calls == limit, "only the attempts within the limit reach the hasher"
    assert outcomes.count(Outcome.WRONG) == limit
    assert outcomes.count(Outcome.REFUSED) == GUESSES - limit
    # The address stays refused for this account, even with the right password.
    right = attempt(
        limiter, settings, clock, check, email=email, address="203.0.113.66", password=PASSWORD
    )
    assert right.outcome == Outcome.REFUSED and check.calls == limit


def test_many_addresses_cannot_lock_the_owner_out(
    engine: Engine,
    make_user: Callable[..., User],
    limiter: RateLimiter,
    settings: Settings,
    clock: FrozenClock,
) -> None:
    settings = dataclasses.replace(settings, pow_max_number=2000)
    user = make_user("victim@example.com")
    assert user.email is not None
    email = user.email
    check = CountingCheck(engine)
    outcomes = [
        attempt(limiter, settings, clock, check, email=email, address=f"198.18.{n}.1").outcome
        for n in range(100)
    ]
    # The account's soft limit (10 by default) is reached: the others must prove work first,
    # and their passwords are not checked.
    assert outcomes.count(Outcome.WRONG) == 10 and check.calls == 10
    assert outcomes.count(Outcome.CHALLENGED) == 90
    assert Outcome.REFUSED not in outcomes

    # The owner, at home: asked for the proof of work, solves it, and is in.
    home = "192.0.2.44"
    asked = attempt(limiter, settings, clock, check, email=email, address=home, password=PASSWORD)
    assert asked.outcome == Outcome.CHALLENGED and asked.to_solve is not None
    assert check.calls == 10
    proof = challenge.encode(solve(asked.to_solve))
    done = attempt(
        limiter, settings, clock, check, email=email, address=home, password=PASSWORD, proof=proof
    )
    assert done.outcome == Outcome.SIGNED_IN and done.user is not None
    assert done.user.id == user.id

    # The proof was spent; and it was good for this account only.
    again = attempt(
        limiter, settings, clock, check, email=email, address=home, password=PASSWORD, proof=proof
    )
    assert again.outcome == Outcome.CHALLENGED
    assert again.proof_check == challenge.Check.REPLAYED
    other = make_user("other@example.com")
    assert other.email is not None
    stolen = attempt(limiter, settings, clock, check, email=other.email, address=home, proof=proof)
    assert stolen.outcome == Outcome.WRONG  # under its own limit: no proof needed, none spent


def test_a_proof_for_one_account_does_not_open_another(
    limiter: RateLimiter, settings: Settings, clock: FrozenClock
) -> None:
    settings = dataclasses.replace(
        settings, pow_max_number=2000, login_account_rate_limit="1/15 minutes"
    )
    calls: list[str] = []

    def never(email: str) -> Callable[[], Any]:
        return lambda: calls.append(email)

    for email in ("a@example.com", "b@example.com"):
        first = attempt_log_in(
            limiter=limiter,
            settings=settings,
            email=email,
            address="192.0.2.1",
            proof="",
            now=clock.now(),
            check_password=never(email),
        )
        assert first.outcome == Outcome.WRONG
    asked = attempt_log_in(
        limiter=limiter,
        settings=settings,
        email="a@example.com",
        address="192.0.2.2",
        proof="",
        now=clock.now(),
        check_password=never("a@example.com"),
    )
    assert asked.outcome == Outcome.CHALLENGED and asked.to_solve is not None
    proof = challenge.encode(solve(asked.to_solve))
    elsewhere = attempt_log_in(
        limiter=limiter,
        settings=settings,
        email="b@example.com",
        address="192.0.2.2",
        proof=proof,
        now=clock.now(),
        check_password=never("b@example.com"),
    )
    assert elsewhere.outcome == Outcome.CHALLENGED
    assert elsewhere.proof_check == challenge.Check.INVALID
    assert calls == ["a@example.com", "b@example.com"]


def solve(made: dict[str, Any]) -> dict[str, Any]:
    solution = challenge.solve(made)
    assert solution is not None
    return solution
