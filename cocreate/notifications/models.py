from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from cocreate.clock import utcnow
from cocreate.types import UTCDateTime


class OutboxEmail(SQLModel, table=True):
    """An email waiting to be sent; written in the same transaction as what caused it."""

    __tablename__ = "outbox_emails"

    id: int | None = Field(default=None, primary_key=True)
    to: str = Field(max_length=320)
    subject: str = Field(max_length=255)
    body: str
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # NULL: due now. Set only after a failed attempt, so a mail never waits on a clock skew.
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, max_length=500)
