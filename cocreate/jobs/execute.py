"""Running one job, or one period of a periodic job: the same on both backends."""

from __future__ import annotations

import logging
import os
import socket
from datetime import datetime

from cocreate import i18n
from cocreate.i18n import gettext as _
from cocreate.jobs import store
from cocreate.jobs.models import Job, JobStatus
from cocreate.jobs.registry import PERIODIC, TASKS, JobContext, JobFailed, Runtime

log = logging.getLogger(__name__)


def worker_name() -> str:
    """Who runs a job, as the jobs table records it: host and process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def run(runtime: Runtime, job: Job, worker: str) -> JobStatus | None:
    """Run a job this worker holds and record its outcome; the status it ended in, or None
    when another worker took it over meanwhile (its outcome is not recorded twice)."""
    assert job.id is not None
    job_id = job.id
    engine = runtime.engine
    handler = TASKS.get(job.task)
    context = JobContext(
        runtime,
        job_id=job_id,
        report=lambda text: store.report(engine=engine, job_id=job_id, text=text),
    )
    status, message, error = JobStatus.SUCCEEDED, None, None
    with i18n.using_locale(job.locale):
        try:
            if handler is None:
                raise JobFailed(_("This kind of job is unknown to this version of the platform."))
            message = handler(context, **job.args)
        except JobFailed as exc:
            status, error = JobStatus.FAILED, str(exc)
        except Exception:  # a bug or an outage: logged for the operators, told to the person
            log.exception("job %s (%s) failed", job_id, job.task)
            status = JobStatus.FAILED
            error = _("The job stopped on an unexpected error; the operators have the details.")
    finished = store.finish(
        engine=engine,
        job_id=job_id,
        worker=worker,
        now=runtime.clock.now(),
        status=status,
        message=message,
        error=error,
    )
    return status if finished else None


def run_by_id(runtime: Runtime, job_id: int, worker: str) -> JobStatus | None:
    """PostgreSQL: procrastinate hands us a job id; a job already finished (run again after
    its worker died past the end) or gone (emptied) is not run again."""
    job = store.start(engine=runtime.engine, job_id=job_id, worker=worker, now=runtime.clock.now())
    if job is None:
        log.info("job %s is finished or gone: nothing to do", job_id)
        return None
    return run(runtime, job, worker)


def run_period(runtime: Runtime, name: str, period: datetime) -> None:
    spec = PERIODIC.get(name)
    if spec is None:
        log.warning("periodic job %s is not registered here", name)
        return
    try:
        spec.handler(JobContext(runtime, period=period))
    except Exception:  # a database blip must not stop the schedule for good
        log.exception("periodic job %s failed", name)
