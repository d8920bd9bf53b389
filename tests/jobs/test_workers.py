"""Real `cocreate jobs` worker processes on the test's database (SQLite or PostgreSQL): one
killed with SIGKILL in the middle of a job leaves it to another; two of them run a periodic
job once per period between them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session

from cocreate.clock import system_clock
from cocreate.jobs.models import Job, JobStatus
from cocreate.jobs.service import make_jobs
from cocreate.settings import Settings
from cocreate.storage import make_storage
from tests.jobs import handlers
from tests.processes import ROOT

HEARTBEAT, STALLED = "0.5", "2"


def worker_environment(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("COCREATE_")}
    return {
        **inherited,
        "COCREATE_DATABASE_URL": database_url,
        "COCREATE_SECRET_KEY": "jobs-tests-secret-key-" + "k" * 32,
        "COCREATE_DATA_DIR": str(data_dir),
        "COCREATE_OUTBOX_INTERVAL": "0",
        "COCREATE_JOBS_MODULES": "tests.jobs.handlers",
        "COCREATE_JOBS_HEARTBEAT": HEARTBEAT,
        "COCREATE_JOBS_STALLED": STALLED,
        "COCREATE_JOBS_POLL": "0.2",
        **extra,
    }


@contextmanager
def worker(env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m cocreate jobs`, started in the repository (so `tests` imports)."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "cocreate", "jobs"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until(lambda: b"started" in log_path.read_bytes(), 30, log_path)
            yield process
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def wait_until(check: Callable[[], bool], timeout: float, log_path: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            shown = log_path.read_text(errors="replace") if log_path else ""
            raise AssertionError(f"not true within {timeout} s\n{shown}")
        time.sleep(0.05)


def job_row(engine: Engine, job_id: int) -> Job:
    with Session(engine) as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def test_a_job_whose_worker_is_killed_finishes_on_another_worker(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    settings = Settings(database_url=database_url, data_dir=tmp_path, jobs_worker=False)
    jobs = make_jobs(
        settings=settings, engine=engine, clock=system_clock, storage=make_storage(settings)
    )
    assert handlers.slow  # registered in this process too, so enqueue knows the name
    with Session(engine) as session:
        job = jobs.enqueue(session=session, task="test.slow", args={"marker_dir": str(tmp_path)})
    jobs.close()
    assert job.id is not None
    starts = tmp_path / "starts"
    env = worker_environment(database_url, tmp_path)
    with worker(env, tmp_path / "a.log") as first:
        wait_until(lambda: starts.exists() and starts.read_text().strip() != "", 30)
        running = job_row(engine, job.id)
        assert running.status == JobStatus.RUNNING
        assert running.worker is not None and running.worker.endswith(f":{first.pid}")
        assert running.progress == "waiting to be released"
        first.send_signal(signal.SIGKILL)  # mid-job: no chance to say anything
        first.wait()
    with worker(env, tmp_path / "b.log") as second:
        (tmp_path / "release").touch()
        wait_until(lambda: job_row(engine, job.id).status == JobStatus.SUCCEEDED, 40)
        done = job_row(engine, job.id)
    assert done.message == f"done by {second.pid}"
    assert starts.read_text().split() == [str(first.pid), str(second.pid)]
    assert done.attempts == 2
    assert done.worker is not None and done.worker.endswith(f":{second.pid}")


def test_two_workers_run_a_periodic_job_once_per_period(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    ticks = tmp_path / "ticks"
    env = worker_environment(database_url, tmp_path, **{handlers.TICK_FILE: str(ticks)})
    with worker(env, tmp_path / "a.log"), worker(env, tmp_path / "b.log"):
        wait_until(lambda: ticks.exists() and len(ticks.read_text().split("\n")) > 6, 40)
    lines = [line.split() for line in ticks.read_text().splitlines()]
    per_period = Counter(period for period, _pid in lines)
    assert len(per_period) >= 5
    assert set(per_period.values()) == {1}, per_period  # never twice for one period
    periods = sorted(int(p) for p in per_period)
    assert all(b - a >= 1 for a, b in zip(periods, periods[1:], strict=False))
