"""Rate limits shared by every worker: Redis when configured, process memory otherwise.

When Redis cannot be reached, counting goes on in process memory (each worker then limits
on its own) rather than failing the log-in page: a Redis outage must not lock everyone out
or become a 500, and per-worker limits still slow a password guesser down.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from limits import parse
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter

from cocreate.security.windows import SlidingWindows

log = logging.getLogger(__name__)
T = TypeVar("T")
REDIS_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class Limit:
    name: str
    rule: str


class RateLimiter:
    def __init__(self, redis_url: str | None = None, *, key_prefix: str = "cocreate") -> None:
        self.memory = MemoryStorage()
        self.storage: Storage = self.memory
        if redis_url:
            self.storage = RedisStorage(
                redis_url,
                key_prefix=key_prefix,
                wrap_exceptions=True,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            )
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.fallback = MovingWindowRateLimiter(self.memory)
        # Event counts for the fraud checks, in the same store (see windows.py).
        self.windows = SlidingWindows(redis_url, key_prefix=key_prefix)

    def _run(self, action: Callable[[MovingWindowRateLimiter], T]) -> T:
        try:
            return action(self.limiter)
        except StorageError as exc:
            log.warning("rate-limit storage unavailable, counting in this process: %s", exc)
            return action(self.fallback)

    def _storage_run(self, action: Callable[[Storage], T]) -> T:
        try:
            return action(self.storage)
        except StorageError as exc:
            log.warning("rate-limit storage unavailable, counting in this process: %s", exc)
            return action(self.memory)

    def first_use(self, key: str, expiry_seconds: int) -> bool:
        """True the first time `key` is seen within `expiry_seconds`, on any worker sharing
        the store (an atomic increment); False after."""
        return self._storage_run(lambda storage: storage.incr(key, expiry_seconds) == 1)

    def hit(self, limit: Limit, *keys: str) -> bool:
        """Count one attempt against every key; False when any of them is over its limit."""
        item = parse(limit.rule)
        allowed = True
        for key in keys:
            if not self._run(lambda limiter: limiter.hit(item, limit.name, key)):  # noqa: B023
                allowed = False
        return allowed

    def over(self, limit: Limit, *keys: str) -> bool:
        item = parse(limit.rule)
        return any(
            not self._run(lambda limiter: limiter.test(item, limit.name, key))  # noqa: B023
            for key in keys
        )

    def clear(self, limit: Limit, *keys: str) -> None:
        item = parse(limit.rule)
        for key in keys:
            self._run(lambda limiter: limiter.clear(item, limit.name, key))  # noqa: B023

    def reset(self) -> None:
        self.windows.reset()
        self.memory.reset()
        if self.storage is not self.memory:
            self._run(lambda limiter: self.storage.reset())
