"""The request model: the event loop talks to clients; whatever blocks runs in threads.

- The route wrapper (`security.access.route`) reads a request's whole body on the event loop,
  checks its CSRF token, and only then runs the handler, plain synchronous code, in one of a
  bounded set of threads (`RequestThreads`). The event loop never runs a database statement,
  so a slow query, a lock wait or a pool wait delays one request, not the worker.
- A handler holds a pooled connection only while its statements run: the body was read
  before it began, and it ends its transaction (`db.release`) before CPU work.
- CPU work (password hashes, image decodes) runs in the request's thread under a limit of its
  own (`Slots`), which refuses to start while the thread holds a pooled connection.
- Every wait is bounded: no thread, connection or slot within `wait` seconds is `Busy`, which
  the app answers with a 503 and `Retry-After`, drawn on the event loop without the database.

Why threads and not SQLAlchemy's asyncio engine: every service is synchronous code taking a
`Session` (about 20,000 lines), and the templates read lazily while they render; the async
engine would need all of it rewritten, or every call wrapped in `run_sync`, which runs it in a
greenlet with the same blocking semantics. Measured figures are in docs/architecture.md.
"""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from sqlalchemy import event
from sqlalchemy.engine import Engine

T = TypeVar("T")
RETRY_AFTER_SECONDS = 5


class Busy(Exception):
    """No capacity within the configured wait: the request is answered 503, try again."""

    def __init__(self, what: str) -> None:
        super().__init__(f"no {what} free in time")
        self.what = what


class RequestThreads:
    """At most `size` handlers running at once, each in a thread of its own; a request that
    finds none free within `wait` seconds is `Busy`. Waiting requests are served first come,
    first served (anyio's limiter is fair).

    Costly requests (those that hash a password or decode an image) first wait, on the event
    loop, for one of `costly` places (twice the cores by default): a storm of log-ins or
    uploads then holds a few threads, not all of them, and pages keep their threads."""

    def __init__(self, size: int, wait: float, *, costly: int | None = None) -> None:
        self.size = size
        self.wait = wait
        self._admission = anyio.CapacityLimiter(size)
        self._costly = anyio.CapacityLimiter(costly or 2 * (os.cpu_count() or 1))
        # The threads' own limiter, never contended (admission already bounds them): anyio's
        # default one is shared with Starlette's file responses and form parsing.
        self._threads = anyio.CapacityLimiter(size)

    async def run(self, work: Callable[[], T]) -> T:
        with anyio.move_on_after(self.wait) as waited:
            await self._admission.acquire()
        if waited.cancelled_caught:
            raise Busy("request thread")
        try:
            return await anyio.to_thread.run_sync(work, limiter=self._threads)
        finally:
            self._admission.release()

    @asynccontextmanager
    async def costly(self) -> AsyncIterator[None]:
        """A place for a costly request, waited for on the event loop (no thread held)."""
        with anyio.move_on_after(self.wait) as waited:
            await self._costly.acquire()
        if waited.cancelled_caught:
            raise Busy("place for costly work")
        try:
            yield
        finally:
            self._costly.release()

    def busy(self) -> int:
        return int(self._admission.borrowed_tokens)

    def waiting(self) -> int:
        return self._admission.statistics().tasks_waiting


class Slots:
    """At most `size` pieces of CPU work of one kind at once in this process. A thread waits
    at most `wait` seconds for a slot, then the request is `Busy`. Taking a slot while the
    thread holds a pooled database connection is a bug (the connection would wait too)."""

    def __init__(
        self,
        what: str,
        size: int,
        wait: float = 5.0,
        *,
        busy: Callable[[], Exception] | None = None,
    ) -> None:
        self.what = what
        # What a thread that waited in vain raises (Busy by default: a 503 page).
        self._busy = busy or (lambda: Busy(what))
        self.size = size
        self.wait = wait
        self._semaphore = threading.BoundedSemaphore(size)

    def configure(self, *, wait: float) -> None:
        self.wait = wait

    @contextmanager
    def __call__(self) -> Iterator[None]:
        if holds_connection():
            raise RuntimeError(f"{self.what} while holding a database connection")
        semaphore = self._semaphore
        if not semaphore.acquire(timeout=self.wait):
            raise self._busy()
        try:
            yield
        finally:
            semaphore.release()


# --- Which thread holds a pooled connection -----------------------------------------------

_held: dict[int, int] = {}  # thread id -> pooled connections it checked out
_held_lock = threading.Lock()
_OWNER = "cocreate_owner"


def holds_connection() -> bool:
    """True when the current thread has a connection of a tracked engine checked out."""
    return _held.get(threading.get_ident(), 0) > 0


def track_connections(engine: Engine) -> None:
    """Count each thread's checked-out connections (pool events), for `Slots`' check."""

    def checkout(_dbapi: Any, record: Any, _proxy: Any) -> None:
        owner = threading.get_ident()
        record.info[_OWNER] = owner
        with _held_lock:
            _held[owner] = _held.get(owner, 0) + 1

    def checkin(_dbapi: Any, record: Any) -> None:
        owner = record.info.pop(_OWNER, None)
        if owner is None:
            return
        with _held_lock:
            left = _held.get(owner, 0) - 1
            if left > 0:
                _held[owner] = left
            else:
                _held.pop(owner, None)

    event.listen(engine, "checkout", checkout)
    event.listen(engine, "checkin", checkin)
    # A connection taken out of the pool for good is no longer checked out either.
    event.listen(engine, "detach", checkin)
