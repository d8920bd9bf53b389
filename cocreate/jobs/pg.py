"""PostgreSQL: procrastinate is the queue (its schema lives in the `procrastinate` schema,
installed by migration 0016).

What procrastinate gives, which we do not write ourselves:
- a job is fetched by one worker only (`SELECT ... FOR UPDATE SKIP LOCKED` in its
  `procrastinate_fetch_job` function), and jobs that share a `lock` never run at once;
- workers send heartbeats; `retry_stalled` (a periodic task, as procrastinate's documentation
  recommends) hands the jobs of a worker that stopped sending them to another worker;
- a periodic task is deferred once per period across every worker and host (a unique
  constraint on the task, its periodic id and the period's timestamp);
- LISTEN/NOTIFY, so a worker starts a new job at once.

Each procrastinate job carries the id of our `jobs` row, which holds the arguments, the
requester and what the page shows.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import procrastinate
from procrastinate import exceptions as queue_errors
from psycopg_pool import NullConnectionPool

from cocreate.jobs import execute, store
from cocreate.jobs.registry import Periodic, Runtime, scheduled

log = logging.getLogger(__name__)

SCHEMA = "procrastinate"
RUN_JOB = "cocreate.run_job"
RETRY_STALLED = "cocreate.retry_stalled"
RESTART_DELAY = 5.0  # seconds between attempts to start a worker when the database is down


def conninfo(runtime: Runtime) -> str:
    """libpq's form of the platform's database URL."""
    url = runtime.engine.url.set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


CONNECTION = {"options": f"-c search_path={SCHEMA}"}  # procrastinate's tables, by name


def cron(seconds: float) -> str:
    """A cron line (croniter, seconds as the sixth field) for a period of `seconds`: whole
    seconds that divide a minute, or whole minutes that divide an hour."""
    whole = max(1, round(seconds))
    if whole < 60:
        step = next(s for s in range(whole, 61) if 60 % s == 0)
        return f"* * * * * */{step}"
    minutes = max(1, round(whole / 60))
    if minutes < 60:
        step = next(m for m in range(minutes, 61) if 60 % m == 0)
        return f"*/{step} * * * *"
    return "0 * * * *"


class Queue:
    def __init__(
        self,
        runtime: Runtime,
        *,
        concurrency: int,
        heartbeat_seconds: float,
        stalled_seconds: float,
    ) -> None:
        self.runtime = runtime
        self.concurrency = concurrency
        self.heartbeat_seconds = heartbeat_seconds
        self.stalled_seconds = stalled_seconds
        self.worker = execute.worker_name()
        self._deferrer: procrastinate.App | None = None
        self._deferrer_lock = threading.Lock()

    # --- Deferring, from a request thread -----------------------------------------------

    def _deferring_app(self) -> procrastinate.App:
        with self._deferrer_lock:
            if self._deferrer is None:
                app = procrastinate.App(connector=procrastinate.SyncPsycopgConnector())
                # No idle connection is kept for the few jobs people start: one is opened
                # for each (about as long as a page's query).
                app.open(NullConnectionPool(conninfo(self.runtime), kwargs=CONNECTION, open=True))
                self._deferrer = app
            return self._deferrer

    def submit(self, job_id: int) -> None:
        """Queue our job `job_id` (after its row is committed)."""
        lock = f"cocreate-job-{job_id}"
        try:
            self._deferring_app().configure_task(name=RUN_JOB, lock=lock, queueing_lock=lock).defer(
                job_id=job_id
            )
        except queue_errors.AlreadyEnqueued:
            pass  # already waiting in the queue

    def close(self) -> None:
        with self._deferrer_lock:
            if self._deferrer is not None:
                self._deferrer.close()
                self._deferrer = None

    # --- The worker ----------------------------------------------------------------------

    def app(self) -> procrastinate.App:
        """A procrastinate app with our tasks, for one worker run."""
        connector = procrastinate.PsycopgConnector(
            conninfo=conninfo(self.runtime), kwargs=CONNECTION
        )
        app = procrastinate.App(connector=connector)
        runtime, worker = self.runtime, self.worker

        @app.task(name=RUN_JOB)
        def run_job(job_id: int) -> None:
            execute.run_by_id(runtime, job_id, worker)

        for spec, every in scheduled(runtime.settings):
            self._add_periodic(app, spec, every)

        stalled = self.stalled_seconds

        @app.periodic(cron=cron(max(1.0, stalled / 3)), periodic_id="retry_stalled")
        @app.task(name=RETRY_STALLED, queueing_lock=RETRY_STALLED)
        async def retry_stalled(timestamp: int) -> None:
            for job in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled):
                log.warning("job %s of a worker that stopped: run it again", job.id)
                await app.job_manager.retry_job(job)
            # A row whose process died between its commit and its defer: queue it again.
            before = runtime.clock.now() - timedelta(seconds=stalled)
            for job_id in await asyncio.to_thread(
                store.waiting_since, engine=runtime.engine, before=before
            ):
                lock = f"cocreate-job-{job_id}"
                try:
                    await app.configure_task(
                        name=RUN_JOB, lock=lock, queueing_lock=lock
                    ).defer_async(job_id=job_id)
                except queue_errors.AlreadyEnqueued:
                    pass

        return app

    def _add_periodic(self, app: procrastinate.App, spec: Periodic, every: float) -> None:
        runtime, name = self.runtime, spec.name

        def run_period(timestamp: int) -> None:
            execute.run_period(runtime, name, datetime.fromtimestamp(timestamp, UTC))

        task = app.task(name=f"cocreate.periodic.{name}", lock=f"cocreate-periodic-{name}")
        app.periodic(cron=cron(every), periodic_id=name)(task(run_period))

    def _options(self, **overrides: Any) -> dict[str, Any]:
        return {
            "name": self.worker,
            "concurrency": self.concurrency,
            "install_signal_handlers": False,
            "update_heartbeat_interval": self.heartbeat_seconds,
            "stalled_worker_timeout": self.stalled_seconds,
            "delete_jobs": "successful",
            **overrides,
        }

    async def run(self) -> None:
        """Work until cancelled; a database that is down is tried again, not given up on."""
        while True:
            try:
                app = self.app()
                async with app.open_async():
                    await app.run_worker_async(**self._options())
            except (OSError, queue_errors.ConnectorException) as exc:
                log.warning("the job worker cannot reach the database (%s); retrying", exc)
            await asyncio.sleep(RESTART_DELAY)

    def run_pending(self) -> None:
        """Run every job waiting now, then return (tests, and the command line)."""

        async def drain() -> None:
            app = self.app()
            async with app.open_async():
                await app.run_worker_async(**self._options(wait=False, listen_notify=False))

        # In a thread of its own: the caller may be running an event loop (a browser test).
        worker = threading.Thread(target=asyncio.run, args=(drain(),))
        worker.start()
        worker.join()
