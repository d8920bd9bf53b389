from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, UniqueConstraint
from sqlmodel import Field, SQLModel

from cocreate.clock import utcnow
from cocreate.types import UTCDateTime


class Role(enum.StrEnum):
    OWNER = "owner"
    MARKETER = "marketer"
    MODERATOR = "moderator"
    JURY = "jury"


# A brand's slug is its address (/brands/<slug>): lowercase letters, digits and hyphens.
SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$"
SLUG_MAX_LENGTH = 60

ROLE_CHECK = "role IN ('owner', 'marketer', 'moderator', 'jury')"


class Brand(SQLModel, table=True):
    __tablename__ = "brands"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120)
    slug: str = Field(max_length=SLUG_MAX_LENGTH, unique=True)
    primary_color: str = Field(default="#b3261e", max_length=7)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Membership(SQLModel, table=True):
    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("brand_id", "user_id"),
        CheckConstraint(ROLE_CHECK, name="membership_role"),
    )

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = Field(foreign_key="brands.id", index=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    role: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Invitation(SQLModel, table=True):
    """An emailed offer to join a brand with a role; the link carries a signed id."""

    __tablename__ = "invitations"
    __table_args__ = (CheckConstraint(ROLE_CHECK, name="invitation_role"),)

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = Field(foreign_key="brands.id", index=True, ondelete="CASCADE")
    email: str = Field(max_length=320)
    role: str = Field(max_length=16)
    invited_by_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    accepted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    accepted_by_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
