"""Every statement that writes `jobs`, and the reads the pages need.

The writes a worker makes (claim, lease, progress, finish) each run in a short transaction
of their own, never in the handler's: the page sees progress while the handler's own
transaction is still open, and a handler that fails leaves a row that says so.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col
from sqlmodel import select as sqlmodel_select

from cocreate.jobs.models import Job, JobStatus

JOBS = Job.__table__  # type: ignore[attr-defined]


def create(
    *,
    session: Session,
    task: str,
    args: dict[str, Any],
    now: datetime,
    locale: str,
    subject: str | None = None,
    requested_by_id: int | None = None,
    brand_id: int | None = None,
) -> Job:
    """A queued job; the caller commits."""
    job = Job(
        task=task,
        args=args,
        subject=subject,
        locale=locale,
        requested_by_id=requested_by_id,
        brand_id=brand_id,
        created_at=now,
        run_after=now,
    )
    session.add(job)
    session.flush()
    return job


def select_jobs() -> Any:
    return sqlmodel_select(Job)


def get(*, session: Session, job_id: int) -> Job | None:
    return session.get(Job, job_id)


def latest(*, session: Session, subjects: Sequence[str]) -> dict[str, Job]:
    """The newest job of each subject that has one."""
    if not subjects:
        return {}
    newest = (
        select(JOBS.c.subject, JOBS.c.id.label("id"))
        .where(JOBS.c.subject.in_(list(subjects)))
        .order_by(JOBS.c.subject, JOBS.c.id.desc())
    )
    found: dict[str, int] = {}
    for subject, job_id in session.execute(newest):
        found.setdefault(subject, job_id)
    if not found:
        return {}
    jobs = session.exec(select_jobs().where(col(Job.id).in_(list(found.values())))).all()
    by_id = {job.id: job for job in jobs}
    return {subject: by_id[job_id] for subject, job_id in found.items() if job_id in by_id}


def claim(*, engine: Engine, worker: str, now: datetime, lease_until: datetime) -> Job | None:
    """Take the oldest due job (SQLite runner): a queued one, or a running one whose worker
    stopped renewing its lease (it died). One statement, so two processes never take the
    same job: SQLite runs it under its single writer lock."""
    due = (
        select(JOBS.c.id)
        .where(
            or_(
                and_(JOBS.c.status == JobStatus.QUEUED.value, JOBS.c.run_after <= now),
                and_(JOBS.c.status == JobStatus.RUNNING.value, JOBS.c.lease_until < now),
            )
        )
        .order_by(JOBS.c.id)
        .limit(1)
        .scalar_subquery()
    )
    statement = (
        update(JOBS)
        .where(JOBS.c.id == due)
        .values(
            status=JobStatus.RUNNING.value,
            worker=worker,
            attempts=JOBS.c.attempts + 1,
            started_at=now,
            lease_until=lease_until,
        )
        .returning(JOBS.c.id)
    )
    with engine.begin() as conn:
        job_id = conn.execute(statement).scalar()
    return _load(engine, job_id) if job_id is not None else None


def start(*, engine: Engine, job_id: int, worker: str, now: datetime) -> Job | None:
    """Mark the job running for `worker` (PostgreSQL: procrastinate already made sure no
    other worker holds it); None when it is finished or gone."""
    statement = (
        update(JOBS)
        .where(
            JOBS.c.id == job_id,
            JOBS.c.status.in_([JobStatus.QUEUED.value, JobStatus.RUNNING.value]),
        )
        .values(
            status=JobStatus.RUNNING.value,
            worker=worker,
            attempts=JOBS.c.attempts + 1,
            started_at=now,
        )
        .returning(JOBS.c.id)
    )
    with engine.begin() as conn:
        started = conn.execute(statement).scalar()
    return _load(engine, job_id) if started is not None else None


def _load(engine: Engine, job_id: int) -> Job | None:
    with Session(engine, expire_on_commit=False) as session:
        return session.get(Job, job_id)


def renew(*, engine: Engine, job_ids: Iterable[int], worker: str, lease_until: datetime) -> None:
    ids = list(job_ids)
    if not ids:
        return
    with engine.begin() as conn:
        conn.execute(
            update(JOBS)
            .where(
                JOBS.c.id.in_(ids),
                JOBS.c.worker == worker,
                JOBS.c.status == JobStatus.RUNNING.value,
            )
            .values(lease_until=lease_until)
        )


def report(*, engine: Engine, job_id: int, text: str) -> None:
    with engine.begin() as conn:
        conn.execute(update(JOBS).where(JOBS.c.id == job_id).values(progress=text[:500]))


def finish(
    *,
    engine: Engine,
    job_id: int,
    worker: str,
    now: datetime,
    status: JobStatus,
    message: str | None = None,
    error: str | None = None,
) -> bool:
    """Record the outcome, if `worker` still holds the job (False: another took it over)."""
    with engine.begin() as conn:
        done = conn.execute(
            update(JOBS)
            .where(
                JOBS.c.id == job_id,
                JOBS.c.worker == worker,
                JOBS.c.status == JobStatus.RUNNING.value,
            )
            .values(
                status=status.value,
                finished_at=now,
                lease_until=None,
                message=message[:2000] if message else None,
                error=error[:2000] if error else None,
            )
        )
    return bool(done.rowcount)


def fail_unqueued(*, engine: Engine, job_id: int, now: datetime, error: str) -> None:
    """The queue refused the job (its database was unreachable): say so on the page."""
    with engine.begin() as conn:
        conn.execute(
            update(JOBS)
            .where(JOBS.c.id == job_id, JOBS.c.status == JobStatus.QUEUED.value)
            .values(status=JobStatus.FAILED.value, finished_at=now, error=error[:2000])
        )


def waiting_since(*, engine: Engine, before: datetime, limit: int = 100) -> list[int]:
    """Jobs still queued that were created before `before` (PostgreSQL: handed to the queue
    again, in case the process that created them died before it could)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(JOBS.c.id)
            .where(JOBS.c.status == JobStatus.QUEUED.value, JOBS.c.created_at < before)
            .order_by(JOBS.c.id)
            .limit(limit)
        )
        return [int(row[0]) for row in rows]


# --- Periodic jobs (SQLite runner) ----------------------------------------------------------


def period_start(now: datetime, every: float) -> datetime:
    """The start of the period of `every` seconds that `now` falls in (aligned on the epoch,
    so every process computes the same periods)."""
    start = math.floor(now.timestamp() / every) * every
    return datetime.fromtimestamp(start, UTC)
