"""One interface over both backends: `Jobs.enqueue`, a worker to run, and the reads.

On SQLite the jobs run in process (`runner.Runner`); on PostgreSQL procrastinate queues
them across hosts (`pg.Queue`). A feature registers its handlers (`registry.task`,
`registry.periodic`) and starts a job with `request.app.state.jobs.enqueue(...)`.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from sqlalchemy.engine import Engine
from sqlmodel import Session

from cocreate import i18n
from cocreate.clock import Clock
from cocreate.i18n import gettext as _
from cocreate.jobs import registry, store
from cocreate.jobs.models import Job
from cocreate.jobs.registry import Runtime
from cocreate.settings import Settings
from cocreate.storage import Storage

log = logging.getLogger(__name__)


class Backend(Protocol):
    def submit(self, job_id: int) -> None: ...

    async def run(self) -> None: ...

    def run_pending(self) -> object: ...

    def close(self) -> None: ...


class InProcess:
    """SQLite's backend: the runner polls the jobs table; `submit` only wakes it."""

    def __init__(self, runtime: Runtime) -> None:
        from cocreate.jobs.runner import Runner

        settings = runtime.settings
        self.runner = Runner(
            runtime,
            concurrency=settings.jobs_concurrency,
            poll_seconds=settings.jobs_poll_seconds,
            heartbeat_seconds=settings.jobs_heartbeat_seconds,
            lease_seconds=settings.jobs_stalled_seconds,
        )

    def submit(self, job_id: int) -> None:
        self.runner.wake()

    async def run(self) -> None:
        await self.runner.run()

    def run_pending(self) -> int:
        return self.runner.run_pending()

    def close(self) -> None:
        pass


class Jobs:
    def __init__(self, runtime: Runtime, backend: Backend) -> None:
        self.runtime = runtime
        self.backend = backend

    def enqueue(
        self,
        *,
        session: Session,
        task: str,
        args: dict[str, Any] | None = None,
        subject: str | None = None,
        requested_by_id: int | None = None,
        brand_id: int | None = None,
    ) -> Job:
        """Queue `task(**args)`; commits the session. The job's messages will be in the
        caller's language."""
        if task not in registry.TASKS:
            raise KeyError(f"no job handler named {task!r}")
        job = store.create(
            session=session,
            task=task,
            args=args or {},
            now=self.runtime.clock.now(),
            locale=i18n.current_locale(),
            subject=subject,
            requested_by_id=requested_by_id,
            brand_id=brand_id,
        )
        session.commit()
        assert job.id is not None
        try:
            self.backend.submit(job.id)
        except Exception:  # the queue's database is unreachable: say so on the page
            log.exception("job %s could not be queued", job.id)
            store.fail_unqueued(
                engine=self.runtime.engine,
                job_id=job.id,
                now=self.runtime.clock.now(),
                error=_("The job could not be queued; try again in a moment."),
            )
            session.refresh(job)
        return job

    async def work(self) -> None:
        """Run jobs until cancelled (started with the app, or by `cocreate jobs`)."""
        await self.backend.run()

    def run_pending(self) -> None:
        """Run every job waiting now, then return."""
        self.backend.run_pending()

    def close(self) -> None:
        self.backend.close()


def make_jobs(
    *,
    settings: Settings,
    engine: Engine,
    clock: Clock,
    storage: Storage,
) -> Jobs:
    registry.load(settings.jobs_modules)
    runtime = Runtime(engine=engine, settings=settings, clock=clock, storage=storage)
    backend: Backend
    if engine.dialect.name == "postgresql":
        from cocreate.jobs.pg import Queue

        backend = Queue(
            runtime,
            concurrency=settings.jobs_concurrency,
            heartbeat_seconds=settings.jobs_heartbeat_seconds,
            stalled_seconds=settings.jobs_stalled_seconds,
        )
    else:
        backend = InProcess(runtime)
    return Jobs(runtime, backend)
