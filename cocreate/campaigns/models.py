from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, Text
from sqlmodel import Field, SQLModel

from cocreate.clock import utcnow
from cocreate.types import UTCDateTime


class CampaignStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class Campaign(SQLModel, table=True):
    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'published', 'archived')", name="campaign_status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = Field(foreign_key="brands.id", index=True, ondelete="CASCADE")
    slug: str = Field(max_length=80, unique=True)
    title: str = Field(max_length=160)
    summary: str = Field(default="", max_length=300)
    brief: str = Field(default="", sa_type=Text)
    status: str = Field(default=CampaignStatus.DRAFT, max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
