"""Arrivals through shared links: who shared, who came, when (`arrivals`)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from cocreate.clock import utcnow
from cocreate.types import UTCDateTime


class ShareArrival(SQLModel, table=True):
    """A visitor who followed someone's share link to a campaign or an idea, once a day.

    `visitor` is a hash of the visitor's address and browser salted with the day (as
    privacy-friendly analytics count visitors): it tells two visits of one day apart and
    nothing else, and cannot be followed from one day to the next. `user_id` is set when the
    visitor is, or becomes, signed in: what they then vote is what the share brought.
    """

    __tablename__ = "share_arrivals"
    __table_args__ = (Index("ix_share_arrivals_sharer", "sharer_id", "campaign_id", "idea_id"),)

    id: int | None = Field(default=None, primary_key=True)
    sharer_id: int = Field(foreign_key="users.id", ondelete="CASCADE")
    campaign_id: int = Field(foreign_key="campaigns.id", ondelete="CASCADE")
    idea_id: int | None = Field(default=None, foreign_key="ideas.id", ondelete="CASCADE")
    visitor: str = Field(max_length=32)
    day: date
    user_id: int | None = Field(
        default=None, foreign_key="users.id", ondelete="SET NULL", index=True
    )
    arrived_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
