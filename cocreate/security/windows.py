"""Sliding-window event counts shared by every worker: Redis when configured, memory otherwise.

The fraud checks count every vote attempt under three keys (network, device, account). The
`limits` package's strategies cost two storage calls per key, and its memory storage starts a
timer thread to expire keys, which on the vote path cost more than the vote's own INSERT. This
counts the way its sliding-window counter does (the current fixed window plus the previous one
weighted by how much of it still overlaps the sliding window) with one Redis round trip for
all the keys of a vote (a pipeline of INCR/EXPIRE/GET), or a dict under a lock in memory.

When Redis cannot be reached the counts go on in process memory (each worker then counts on
its own) rather than failing the vote: a Redis outage must not stop voting or become a 500.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import redis

log = logging.getLogger(__name__)
REDIS_TIMEOUT_SECONDS = 2.0
SWEEP_EVERY = 10_000  # memory: drop stale keys every this many hits


@dataclass(frozen=True)
class Window:
    name: str  # part of the key: what is counted
    seconds: int


def _weighted(previous: int, current: int, now: float, seconds: int) -> int:
    """The sliding window's count: all of the current fixed window, and the share of the
    previous one the sliding window still covers."""
    elapsed = (now % seconds) / seconds
    return current + math.floor(previous * (1 - elapsed))


class MemoryWindows:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.lock = threading.Lock()
        # key -> (index of its current fixed window, count in it, count in the one before)
        self.slots: dict[str, tuple[int, int, int]] = {}
        self.hits = 0

    def counts(self, items: Sequence[tuple[Window, str]], *, hit: bool) -> list[int]:
        now = self.clock()
        found = []
        with self.lock:
            for window, key in items:
                full = f"{window.name}/{key}"
                index = int(now // window.seconds)
                slot_index, current, previous = self.slots.get(full, (index, 0, 0))
                if slot_index != index:  # the fixed window moved on
                    previous = current if slot_index == index - 1 else 0
                    current = 0
                if hit:
                    current += 1
                    self.slots[full] = (index, current, previous)
                found.append(_weighted(previous, current, now, window.seconds))
            if hit:
                self.hits += 1
                if self.hits % SWEEP_EVERY == 0:
                    self._sweep(now, max(w.seconds for w, _k in items))
        return found

    def _sweep(self, now: float, seconds: int) -> None:
        # A key untouched for two of the longest windows counts nothing any more.
        stale = [k for k, (i, _c, _p) in self.slots.items() if (i + 2) * seconds < now]
        for key in stale:
            del self.slots[key]

    def keys(self) -> list[str]:
        return list(self.slots)

    def reset(self) -> None:
        with self.lock:
            self.slots.clear()


class RedisWindows:
    def __init__(self, url: str, *, key_prefix: str, clock: Callable[[], float] = time.time):
        self.client: Any = redis.Redis.from_url(
            url,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        )
        self.prefix = f"{key_prefix}:win:"
        self.clock = clock

    def counts(self, items: Sequence[tuple[Window, str]], *, hit: bool) -> list[int]:
        now = self.clock()
        pipe = self.client.pipeline(transaction=False)
        for window, key in items:
            index = int(now // window.seconds)
            base = f"{self.prefix}{window.name}/{key}:"
            if hit:
                pipe.incr(f"{base}{index}")
                pipe.expire(f"{base}{index}", 2 * window.seconds + 1)
            else:
                pipe.get(f"{base}{index}")
                pipe.get(f"{base}{index}")  # keeps the replies two-plus-one per key
            pipe.get(f"{base}{index - 1}")
        replies = pipe.execute()
        found = []
        for n, (window, _key) in enumerate(items):
            current, _expire, previous = replies[3 * n : 3 * n + 3]
            found.append(_weighted(int(previous or 0), int(current or 0), now, window.seconds))
        return found

    def reset(self) -> None:
        keys = list(self.client.scan_iter(f"{self.prefix}*"))
        if keys:
            self.client.delete(*keys)


class SlidingWindows:
    """Counts in Redis when a URL is given, else (and whenever Redis fails) in memory."""

    def __init__(self, redis_url: str | None = None, *, key_prefix: str = "cocreate") -> None:
        self.memory = MemoryWindows()
        self.redis = RedisWindows(redis_url, key_prefix=key_prefix) if redis_url else None

    def counts(self, items: Sequence[tuple[Window, str]], *, hit: bool = True) -> list[int]:
        """Record one event under each (window, key) unless `hit` is False, and return how
        many each window holds, the new one included."""
        if self.redis is not None:
            try:
                return self.redis.counts(items, hit=hit)
            except redis.RedisError as exc:
                log.warning("window storage unavailable, counting in this process: %s", exc)
        return self.memory.counts(items, hit=hit)

    def reset(self) -> None:
        self.memory.reset()
        if self.redis is not None:
            try:
                self.redis.reset()
            except redis.RedisError as exc:
                log.warning("window storage unavailable: %s", exc)
