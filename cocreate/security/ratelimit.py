"""Rate limits shared by every worker: Redis when configured, process memory otherwise."""

from __future__ import annotations

from dataclasses import dataclass

from limits import parse
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter


@dataclass(frozen=True)
class Limit:
    name: str
    rule: str


class RateLimiter:
    def __init__(self, redis_url: str | None = None) -> None:
        self.storage: Storage = (
            RedisStorage(redis_url, key_prefix="cocreate") if redis_url else MemoryStorage()
        )
        self.limiter = MovingWindowRateLimiter(self.storage)

    def hit(self, limit: Limit, *keys: str) -> bool:
        """Count one attempt against every key; False when any of them is over its limit."""
        item = parse(limit.rule)
        allowed = True
        for key in keys:
            if not self.limiter.hit(item, limit.name, key):
                allowed = False
        return allowed

    def over(self, limit: Limit, *keys: str) -> bool:
        item = parse(limit.rule)
        return any(not self.limiter.test(item, limit.name, key) for key in keys)

    def clear(self, limit: Limit, *keys: str) -> None:
        item = parse(limit.rule)
        for key in keys:
            self.limiter.clear(item, limit.name, key)

    def reset(self) -> None:
        self.storage.reset()
