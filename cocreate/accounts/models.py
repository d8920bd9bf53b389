from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import UniqueConstraint, event
from sqlmodel import Field, SQLModel

from cocreate.clock import utcnow
from cocreate.fraud.log import canonical_mailbox
from cocreate.types import UTCDateTime


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    # Normalised (NFKC, trimmed, lower case). NULL once the account is deleted: the row stays
    # as an anonymous tombstone so that ideas and votes keep a voter to point at.
    email: str | None = Field(default=None, max_length=320, unique=True)
    display_name: str = Field(max_length=80)
    password_hash: str | None = Field(default=None, max_length=255)
    email_verified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    pending_email: str | None = Field(default=None, max_length=320)
    # The email's one-mailbox form (plus tag dropped, Gmail dots dropped): accounts sharing it
    # are one person's; the fraud checks look them up at each vote. Kept by the listener below.
    canonical_mailbox: str | None = Field(default=None, max_length=320, index=True)
    locale: str | None = Field(default=None, max_length=8)
    is_admin: bool = Field(default=False)
    disabled: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Part of every session cookie: bumping it signs the account out everywhere.
    session_version: int = Field(default=0)

    @property
    def is_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def is_active(self) -> bool:
        return not self.disabled and self.deleted_at is None


@event.listens_for(User, "before_insert")
@event.listens_for(User, "before_update")
def _keep_canonical_mailbox(_mapper: Any, _connection: Any, user: User) -> None:
    user.canonical_mailbox = canonical_mailbox(user.email) if user.email else None


class Identity(SQLModel, table=True):
    """A sign-in through an OpenID Connect provider, tied to one account."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("issuer", "subject"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    provider: str = Field(max_length=40)
    issuer: str = Field(max_length=255)
    subject: str = Field(max_length=255)
    email: str | None = Field(default=None, max_length=320)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
