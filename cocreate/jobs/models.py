"""The jobs table: what was asked for, by whom, and how far it got (both databases).

On SQLite it is also the queue the in-process runner claims from (`runner.py`). On
PostgreSQL procrastinate is the queue; each of its jobs names one row here, which carries
what the page that started the job shows (`progress`, `message`, `error`).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Column, ForeignKey, Index, Integer
from sqlmodel import Field, SQLModel

from cocreate.clock import utcnow
from cocreate.types import UTCDateTime


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


FINISHED = (JobStatus.SUCCEEDED, JobStatus.FAILED)


class Job(SQLModel, table=True):
    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed')", name="job_status"
        ),
        # The page that started a job finds its latest one by subject ("round:12").
        Index("ix_jobs_subject", "subject", "id"),
        # The SQLite runner's claim: the oldest due queued job, or a running one whose
        # worker stopped renewing its lease.
        Index("ix_jobs_claim", "status", "run_after"),
    )

    id: int | None = Field(default=None, primary_key=True)
    task: str = Field(max_length=100)  # the handler's name in the registry
    args: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    subject: str | None = Field(default=None, max_length=100)
    status: str = Field(default=JobStatus.QUEUED, max_length=10)
    locale: str = Field(default="en", max_length=10)  # messages in the requester's language
    requested_by_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    )
    brand_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("brands.id", ondelete="CASCADE"), nullable=True),
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    run_after: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    attempts: int = Field(default=0)
    worker: str | None = Field(default=None, max_length=100)  # host:pid of the last runner
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)  # SQLite runner
    progress: str | None = Field(default=None, max_length=500)
    message: str | None = Field(default=None, max_length=2000)  # the outcome, for people
    error: str | None = Field(default=None, max_length=2000)
