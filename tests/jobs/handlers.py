"""Job handlers for the tests, loaded by worker processes through COCREATE_JOBS_MODULES (and
imported by the tests that queue them)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from cocreate.jobs.registry import JobContext, JobFailed, periodic, task

TICK_FILE = "COCREATE_TEST_TICK_FILE"


@task("test.slow")
def slow(ctx: JobContext, *, marker_dir: str) -> str:
    """Writes its process id to `starts`, then waits for a file named `release`."""
    folder = Path(marker_dir)
    with (folder / "starts").open("a") as starts:
        starts.write(f"{os.getpid()}\n")
    ctx.progress("waiting to be released")
    deadline = time.monotonic() + 60
    while not (folder / "release").exists():
        if time.monotonic() > deadline:
            raise JobFailed("never released")
        time.sleep(0.05)
    return f"done by {os.getpid()}"


@task("test.echo")
def echo(ctx: JobContext, *, text: str) -> str:
    ctx.progress("echoing")
    return f"echo: {text}"


@task("test.refuse")
def refuse(ctx: JobContext) -> str:
    from cocreate.i18n import gettext as _

    raise JobFailed(_("This round does not exist any more."))


@task("test.crash")
def crash(ctx: JobContext) -> str:
    raise RuntimeError("a bug")


def _tick_every(settings: object) -> float:
    return 1.0 if os.environ.get(TICK_FILE) else 0.0


@periodic("test.tick", every=_tick_every)
def tick(ctx: JobContext) -> None:
    """One line per run: the period it stands for and the process that ran it."""
    assert ctx.period is not None
    with open(os.environ[TICK_FILE], "a") as ticks:
        ticks.write(f"{ctx.period.timestamp():.0f} {os.getpid()}\n")
