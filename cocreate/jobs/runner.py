"""SQLite: jobs run in process, over the `jobs` table of the same database.

One asyncio task per process polls (or is woken by `enqueue` in the same process) and hands
each claimed job to a thread, so the event loop never waits on the database or a handler.

- At least once: a claimed job holds a lease that the runner renews every heartbeat; a
  process that dies stops renewing it, and once it has expired another process claims the
  job again (`store.claim`). Handlers are idempotent.
- Never twice at once: the claim is one UPDATE under SQLite's writer lock; the lease is far
  longer than the heartbeat, so a live runner keeps its jobs.
- Periodic jobs once per period: one process at a time holds an exclusive `flock` on a
  file beside the database and runs them, on period boundaries aligned on the epoch; when it
  dies the system releases the lock and another process takes over from the next period
  (it may miss the period the dead one was in, never run it twice). No database write is
  made for the schedule: on SQLite any write ends other connections' read snapshots, and a
  write every period made a reader that then writes fail with "database is locked".
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import time
from datetime import datetime, timedelta
from typing import IO

from cocreate.jobs import execute, store
from cocreate.jobs.models import Job
from cocreate.jobs.registry import Runtime, scheduled

log = logging.getLogger(__name__)


class Runner:
    def __init__(
        self,
        runtime: Runtime,
        *,
        concurrency: int,
        poll_seconds: float,
        heartbeat_seconds: float,
        lease_seconds: float,
    ) -> None:
        self.runtime = runtime
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self.lease_seconds = lease_seconds
        self.worker = execute.worker_name()
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._leader: IO[bytes] | None = None  # the schedule's lock file, while held
        self._next: dict[str, datetime] = {}  # periodic job -> start of its next period

    def _lock_path(self) -> str | None:
        database = self.runtime.engine.url.database
        return f"{database}.jobs-schedule.lock" if database and database != ":memory:" else None

    def _lead(self) -> bool:
        """Hold the schedule's lock (taking it when free); True while this process leads."""
        if self._leader is not None:
            return True
        path = self._lock_path()
        if path is None:
            return True  # an in-memory database: one process only
        handle = open(path, "ab")  # noqa: SIM115  (held open as long as this process leads)
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._leader = handle
        self._next.clear()  # start with the next period: the last leader may have run this one
        log.info("process %s runs the periodic jobs", os.getpid())
        return True

    def wake(self) -> None:
        """A job was queued in this process: look now rather than at the next poll."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wake.set)

    def _lease(self) -> datetime:
        return self.runtime.clock.now() + timedelta(seconds=self.lease_seconds)

    def claim(self) -> Job | None:
        return store.claim(
            engine=self.runtime.engine,
            worker=self.worker,
            now=self.runtime.clock.now(),
            lease_until=self._lease(),
        )

    def run_pending(self) -> int:
        """Run every due job now, one after the other, in the calling thread (tests, and the
        command line); how many ran."""
        ran = 0
        while (job := self.claim()) is not None:
            execute.run(self.runtime, job, self.worker)
            ran += 1
        return ran

    async def run(self) -> None:
        """Until cancelled; then the schedule's lock goes to another process."""
        try:
            await self._run_forever()
        finally:
            if self._leader is not None:
                self._leader.close()  # releases the flock
                self._leader = None

    async def _run_forever(self) -> None:
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        jobs: dict[asyncio.Task[object], int] = {}
        periodic: dict[str, asyncio.Task[None]] = {}
        renewed = time.monotonic()
        while True:
            self._wake.clear()
            try:
                await self._start_periods(periodic)
                while len(jobs) < self.concurrency:
                    job = await asyncio.to_thread(self.claim)
                    if job is None or job.id is None:
                        break
                    jobs[asyncio.create_task(self._run(job))] = job.id
                if jobs and time.monotonic() - renewed >= self.heartbeat_seconds:
                    await asyncio.to_thread(
                        store.renew,
                        engine=self.runtime.engine,
                        job_ids=list(jobs.values()),
                        worker=self.worker,
                        lease_until=self._lease(),
                    )
                    renewed = time.monotonic()
            except Exception:  # a database blip must not stop the runner for good
                log.exception("the job runner could not reach the database")
            waits: set[asyncio.Future[object]] = {asyncio.ensure_future(self._wake.wait())}
            waits |= set(jobs)
            try:
                await asyncio.wait(
                    waits,
                    timeout=self._tick(),
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                for waiter in waits - set(jobs):
                    waiter.cancel()
            for done in [task for task in jobs if task.done()]:
                del jobs[done]
            for name in [name for name, task in periodic.items() if task.done()]:
                del periodic[name]

    def _tick(self) -> float:
        periods = [every for _, every in scheduled(self.runtime.settings)]
        return min([self.poll_seconds, self.heartbeat_seconds, *periods])

    async def _run(self, job: Job) -> object:
        return await asyncio.to_thread(execute.run, self.runtime, job, self.worker)

    async def _start_periods(self, periodic: dict[str, asyncio.Task[None]]) -> None:
        due = scheduled(self.runtime.settings)
        if not due or not self._lead():
            return
        now = self.runtime.clock.now()
        for spec, every in due:
            start = store.period_start(now, every)
            first = self._next.setdefault(spec.name, start + timedelta(seconds=every))
            if now < first or spec.name in periodic:  # not yet, or its last run still going
                continue
            self._next[spec.name] = start + timedelta(seconds=every)
            periodic[spec.name] = asyncio.create_task(
                asyncio.to_thread(execute.run_period, self.runtime, spec.name, start)
            )
