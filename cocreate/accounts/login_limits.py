"""Log-in limits that a guesser cannot race and that cannot lock an account's owner out.

Every attempt is counted *before* its password is checked, with `limits`' `hit()`, which
increments and tests in one step (a Lua script on Redis, a lock in memory): of 60 parallel
guesses only as many as the limit reach the password hasher, the others are refused first.

Three counters, as OWASP's authentication cheat sheet and Django-axes / Keycloak's brute-force
detection separate them:

- per account *and* address (`COCREATE_LOGIN_RATE_LIMIT`): past it this address is refused
  for this account (429). A success clears it, so the owner's own typos do not pile up.
- per address (`COCREATE_LOGIN_IP_RATE_LIMIT`), every account together: past it the address
  is refused (429). It stops one address from trying a password on many accounts.
- per account (`COCREATE_LOGIN_ACCOUNT_RATE_LIMIT`), every address together: a *soft* limit.
  Past it an attempt must carry a solved proof of work (the ALTCHA challenge of
  cocreate/fraud/challenge.py, bound to the account and spent once); it is never refused. So
  a distributed guesser pays for each guess while the owner, at an address of their own that
  is under its limits, still gets in after their browser solves the check.

Nothing here touches the database: `check_password` (the caller's, which reads the account
and runs the hash) is called only once an attempt has passed every limit.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cocreate.accounts.models import User
from cocreate.fraud import challenge
from cocreate.security.ratelimit import Limit, RateLimiter
from cocreate.settings import Settings

log = logging.getLogger(__name__)


class Outcome(enum.StrEnum):
    SIGNED_IN = "signed-in"
    WRONG = "wrong"  # the password was checked and did not match (or no such active account)
    REFUSED = "refused"  # over a hard limit: the password was not checked
    CHALLENGED = "challenged"  # the account is over its soft limit: solve the proof of work


@dataclass(frozen=True)
class LoginBinding:
    """A log-in challenge: good for one account (by a digest of its email, which the salt
    shows) and nothing else. A vote's binding needs `r`, `v` and `i`, which this one lacks."""

    email: str

    def params(self) -> dict[str, str]:
        digest = hashlib.sha256(self.email.encode()).hexdigest()[:24]
        return {"for": "login", "a": digest}


@dataclass(frozen=True)
class LoginAttempt:
    outcome: Outcome
    user: User | None = None
    # CHALLENGED: the challenge for the browser to solve, and how the posted solution fared
    # (None when there was none).
    to_solve: dict[str, Any] | None = None
    proof_check: challenge.Check | None = None


def limits(settings: Settings) -> tuple[Limit, Limit, Limit]:
    """The per (account, address), per address and per account limits."""
    return (
        Limit("login-pair", settings.login_rate_limit),
        Limit("login-ip", settings.login_ip_rate_limit),
        Limit("login-account", settings.login_account_rate_limit),
    )


def attempt_log_in(
    *,
    limiter: RateLimiter,
    settings: Settings,
    email: str,
    address: str,
    proof: str,
    now: datetime,
    check_password: Callable[[], User | None],
) -> LoginAttempt:
    """One log-in attempt through the limits; `check_password` runs only when it passes.

    `email` is the normalised address typed (whether or not it has an account: the answer
    must not tell), `address` the client's IP, `proof` the posted ALTCHA solution or "".
    """
    pair, per_ip, per_account = limits(settings)
    # The shared store (Redis) sees keyed digests, never an address or an email.
    address_key = _pseudonym(settings.secret_key, "ip", address)
    email_key = account_key(settings.secret_key, email)
    pair_key = f"{address_key}|{email_key}"
    if not limiter.hit(pair, pair_key) or not limiter.hit(per_ip, address_key):
        return LoginAttempt(Outcome.REFUSED)
    binding = LoginBinding(email)
    check: challenge.Check | None = None
    if proof:
        check = challenge.verify(
            proof, secret_key=settings.secret_key, binding=binding, now=now, store=limiter
        )
    # Counted even with a proof: the account's counter is the sign of an attack on it.
    under = limiter.hit(per_account, email_key)
    if not under and check != challenge.Check.SOLVED:
        log.info("log-in to an account over its limit: proof of work asked for")
        made = challenge.create(
            secret_key=settings.secret_key,
            binding=binding,
            now=now,
            max_number=settings.pow_max_number,
        )
        return LoginAttempt(Outcome.CHALLENGED, to_solve=made, proof_check=check)
    user = check_password()
    if user is None:
        return LoginAttempt(Outcome.WRONG)
    # The owner is in: their typos from this address are forgiven. The per-address and
    # per-account counts stay (a success there could be an attacker's, and would reopen the
    # account to free guesses).
    limiter.clear(pair, pair_key)
    return LoginAttempt(Outcome.SIGNED_IN, user=user)


def _pseudonym(secret_key: str, kind: str, value: str) -> str:
    """A keyed digest of `value`: stable for counting, meaningless to whoever reads the store."""
    digest = hmac.new(secret_key.encode(), f"login-{kind}:{value}".encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def account_key(secret_key: str, email: str) -> str:
    """The key an account's attempts are counted under in the shared store."""
    return _pseudonym(secret_key, "account", email)
