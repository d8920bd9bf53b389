from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from cocreate.clock import utcnow
from cocreate.types import UTCDateTime


class CampaignStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class StageKind(enum.StrEnum):
    SUBMISSION = "submission"
    VOTING = "voting"
    JURY = "jury"
    ANNOUNCEMENT = "announcement"


class ModerationMode(enum.StrEnum):
    """A campaign's `moderation_mode`; the ideas feature's visibility rule reads it."""

    PRE = "pre"  # ideas are public only once approved
    POST = "post"  # ideas are public at once and moderated after


class Campaign(SQLModel, table=True):
    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'published', 'archived')", name="campaign_status"),
        CheckConstraint("submission_limit >= 1", name="campaign_submission_limit"),
        CheckConstraint("moderation_mode IN ('pre', 'post')", name="campaign_moderation_mode"),
    )

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = Field(foreign_key="brands.id", index=True, ondelete="CASCADE")
    slug: str = Field(max_length=80, unique=True)
    title: str = Field(max_length=160)
    summary: str = Field(default="", max_length=300)
    brief: str = Field(default="", sa_type=Text)  # markdown, rendered then sanitised
    rules: str = Field(default="", sa_type=Text)  # markdown
    prizes: str = Field(default="", sa_type=Text)  # markdown
    cover_image: str | None = Field(default=None, max_length=255)  # storage key
    primary_color: str = Field(default="#b3261e", max_length=7)
    categories: list[str] = Field(default_factory=list, sa_type=JSON)
    languages: list[str] = Field(default_factory=lambda: ["en"], sa_type=JSON)
    submission_limit: int = Field(default=3)  # ideas per person in this campaign
    timezone: str = Field(default="UTC", max_length=64)  # "a day" for daily votes, display
    status: str = Field(default=CampaignStatus.DRAFT, max_length=16, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # "pre": ideas are public once a moderator approves them; "post": public at once,
    # moderated after (cocreate.moderation).
    moderation_mode: str = Field(default="pre", max_length=8)


class Stage(SQLModel, table=True):
    """One step of a campaign's timeline; which one is current follows from the clock."""

    __tablename__ = "stages"
    __table_args__ = (
        UniqueConstraint("campaign_id", "position"),
        CheckConstraint(
            "kind IN ('submission', 'voting', 'jury', 'announcement')", name="stage_kind"
        ),
        CheckConstraint("closes_at > opens_at", name="stage_closes_after_opening"),
    )

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaigns.id", index=True, ondelete="CASCADE")
    position: int
    kind: str = Field(max_length=16)
    title: str = Field(default="", max_length=120)
    opens_at: datetime = Field(sa_type=UTCDateTime)
    closes_at: datetime = Field(sa_type=UTCDateTime)
    config: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
