"""Job handlers, registered by name: `@task("results.certify")` and `@periodic(...)`.

A feature declares its long work in a module of its own (`cocreate/<feature>/..._job.py`)
with these decorators; `load` imports the modules named in `HANDLER_MODULES` (and any the
operator adds with COCREATE_JOBS_MODULES), so that the jobs package never imports a feature.

Every handler may run more than once for the same job (at least once: a worker that dies
mid-job leaves it to another), so each must be idempotent: it checks what is already done.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from cocreate.clock import Clock
from cocreate.settings import Settings
from cocreate.storage import Storage

# The platform's own job modules. Strings, imported by `load`: no import edge from jobs to
# the features that use it.
HANDLER_MODULES = (
    "cocreate.notifications.jobs",
    "cocreate.results.certify_job",
    "cocreate.fraud.scan_job",
    "cocreate.moderation.purge_job",
    "cocreate.jury.mail",
)


class JobFailed(Exception):
    """The job cannot be done, for a reason the person who asked for it can act on (shown on
    their page, in their language). Not retried."""


@dataclass(frozen=True)
class Runtime:
    """What every handler may use: one per worker process."""

    engine: Engine
    settings: Settings
    clock: Clock
    storage: Storage


@dataclass(frozen=True)
class JobContext:
    runtime: Runtime
    job_id: int | None = None  # None for a periodic run
    period: datetime | None = None  # the period a periodic run stands for
    report: Callable[[str], None] = field(default=lambda text: None)

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    @property
    def clock(self) -> Clock:
        return self.runtime.clock

    @contextmanager
    def session(self) -> Any:
        with Session(self.runtime.engine, expire_on_commit=False) as session:
            yield session

    def progress(self, text: str) -> None:
        """Show `text` on the page that started the job (in its own short transaction)."""
        self.report(text)


# A task returns the outcome to show people (already in the job's language), or None.
Handler = Callable[..., str | None]
PeriodicHandler = Callable[[JobContext], None]


@dataclass(frozen=True)
class Periodic:
    name: str
    handler: PeriodicHandler
    every: Callable[[Settings], float]  # seconds; 0 or less: not scheduled


TASKS: dict[str, Handler] = {}
PERIODIC: dict[str, Periodic] = {}


def task(name: str) -> Callable[[Handler], Handler]:
    """Register `handler(ctx, **args)` as the job `name` (`Jobs.enqueue(task=name, ...)`)."""

    def register(handler: Handler) -> Handler:
        if TASKS.get(name, handler) is not handler:
            raise ValueError(f"two job handlers named {name!r}")
        TASKS[name] = handler
        return handler

    return register


def periodic(
    name: str, *, every: Callable[[Settings], float]
) -> Callable[[PeriodicHandler], PeriodicHandler]:
    """Run `handler(ctx)` once per period of `every(settings)` seconds, across every worker
    process and host (one run per period, not one per worker)."""

    def register(handler: PeriodicHandler) -> PeriodicHandler:
        if name in PERIODIC and PERIODIC[name].handler is not handler:
            raise ValueError(f"two periodic jobs named {name!r}")
        PERIODIC[name] = Periodic(name, handler, every)
        return handler

    return register


def load(extra: Iterable[str] = ()) -> None:
    """Import the handler modules (each registers its jobs once, on first import)."""
    for module in (*HANDLER_MODULES, *extra):
        importlib.import_module(module)


def scheduled(settings: Settings) -> list[tuple[Periodic, float]]:
    """The periodic jobs this configuration runs, with their period in seconds."""
    found = []
    for spec in PERIODIC.values():
        every = spec.every(settings)
        if every > 0:
            found.append((spec, every))
    return sorted(found, key=lambda pair: pair[0].name)
