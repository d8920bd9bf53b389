from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, Index, Text
from sqlmodel import Field, SQLModel

from cocreate.clock import utcnow
from cocreate.types import UTCDateTime


class IdeaStatus(enum.StrEnum):
    DRAFT = "draft"
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    MERGED = "merged"
    WITHDRAWN = "withdrawn"


class Idea(SQLModel, table=True):
    __tablename__ = "ideas"
    __table_args__ = (
        CheckConstraint(
            "status IN ('draft', 'pending', 'approved', 'rejected', 'merged', 'withdrawn')",
            name="idea_status",
        ),
        Index("ix_ideas_gallery_newest", "campaign_id", "status", "submitted_at"),
        Index("ix_ideas_gallery_votes", "campaign_id", "status", "vote_count"),
        Index("ix_ideas_gallery_random", "campaign_id", "status", "random_key"),
        Index("ix_ideas_author", "author_id", "campaign_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaigns.id", ondelete="CASCADE")
    author_id: int = Field(foreign_key="users.id")
    title: str = Field(max_length=120)
    description: str = Field(default="", sa_type=Text)  # markdown, rendered then sanitised
    category: str | None = Field(default=None, max_length=60)
    image_key: str | None = Field(default=None, max_length=255)  # storage key of the image
    status: str = Field(default=IdeaStatus.DRAFT, max_length=16)
    merged_into_id: int | None = Field(default=None, foreign_key="ideas.id")
    # Title folded for look-alike search: lower case, no accents, singular words.
    search_key: str = Field(default="", max_length=200)
    # Counted votes, kept current by the voting feature (sort "most voted" without a count(*)).
    vote_count: int = Field(default=0)
    # Fixed at creation: "random" order that stays the same from page to page.
    random_key: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    submitted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Set by moderation when open reports reach the brand's threshold: not shown to the
    # public until a moderator decides (see cocreate.moderation.service.publicly_visible).
    hidden_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
