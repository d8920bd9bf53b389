"""Moderation tables: decisions (append-only), claims, pre-screen flags, reports, settings.

Every rule that protects data is also a database constraint: one claim per idea (primary
key), one report per person per idea, an undo undoes one decision once (unique `undoes_id`).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from cocreate.clock import utcnow
from cocreate.ideas.models import Idea
from cocreate.types import UTCDateTime

# The queue lists pending ideas oldest first across all of a brand's campaigns, and "next
# item" walks the same order: this index on the ideas table serves both (with a keyset on
# (submitted_at, id)). Declared here, with the feature that needs it.
Index(
    "ix_ideas_status_submitted",
    Idea.__table__.c.status,  # type: ignore[attr-defined]
    Idea.__table__.c.submitted_at,  # type: ignore[attr-defined]
    Idea.__table__.c.id,  # type: ignore[attr-defined]
)


class Action(enum.StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    REQUEST_CHANGES = "request_changes"
    MERGE = "merge"
    ESCALATE = "escalate"
    UNDO = "undo"
    HIDE = "hide"  # automatic: open reports reached the brand's threshold
    RESUBMIT = "resubmit"  # the author sent the idea back after a change request


ACTION_CHECK = (
    "action IN ('approve', 'reject', 'request_changes', 'merge', 'escalate', 'undo', 'hide', "
    "'resubmit')"
)


class FlagKind(enum.StrEnum):
    BLOCKLIST = "blocklist"
    LINK = "link"
    PHONE = "phone"
    EMAIL = "email"
    DUPLICATE = "duplicate"
    TOO_SHORT = "too_short"
    ALL_CAPS = "all_caps"
    ESCALATED = "escalated"


SPAM_KINDS = (FlagKind.LINK, FlagKind.PHONE, FlagKind.EMAIL)


class ReportStatus(enum.StrEnum):
    OPEN = "open"
    UPHELD = "upheld"  # the idea was rejected, merged or sent back
    DISMISSED = "dismissed"  # a moderator kept the idea


class ModerationDecision(SQLModel, table=True):
    """One decision on one idea; never updated, never deleted. An undo is a new row."""

    __tablename__ = "moderation_decisions"
    __table_args__ = (
        CheckConstraint(ACTION_CHECK, name="moderation_decision_action"),
        Index("ix_moderation_decisions_idea", "idea_id", "id"),
        Index("ix_moderation_decisions_brand_at", "brand_id", "at"),
        Index("ix_moderation_decisions_automatic", "brand_id", "automatic", "action"),
    )

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = Field(foreign_key="brands.id", ondelete="CASCADE")
    idea_id: int = Field(foreign_key="ideas.id", ondelete="CASCADE")
    actor_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    automatic: bool = Field(default=False)
    action: str = Field(max_length=20)
    # A reason code: one of the built-in reasons, or the text of a brand's own reason.
    reason: str = Field(default="", max_length=200)
    note: str = Field(default="", sa_type=Text)  # free text, sent to the author when relevant
    status_before: str = Field(max_length=16)
    status_after: str = Field(max_length=16)
    merged_into_id: int | None = Field(default=None, foreign_key="ideas.id", ondelete="SET NULL")
    # An undo names the decision it reverses; unique, so a decision is undone at most once.
    undoes_id: int | None = Field(default=None, foreign_key="moderation_decisions.id", unique=True)
    # What the decision changed besides the status, so that an undo can put it back:
    # hidden_at, the outbox mail to withdraw, the credit given on a merge.
    effects: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ModerationClaim(SQLModel, table=True):
    """Who is looking at an idea. The primary key makes it one holder per idea."""

    __tablename__ = "moderation_claims"

    idea_id: int = Field(foreign_key="ideas.id", primary_key=True, ondelete="CASCADE")
    moderator_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    claimed_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)


class ModerationFlag(SQLModel, table=True):
    """Something the pre-screen (or a moderator's escalation) wants a person to look at."""

    __tablename__ = "moderation_flags"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('blocklist', 'link', 'phone', 'email', 'duplicate', 'too_short', "
            "'all_caps', 'escalated')",
            name="moderation_flag_kind",
        ),
        Index("ix_moderation_flags_idea_open", "idea_id", "resolved_by_id"),
        Index("ix_moderation_flags_kind_open", "kind", "resolved_by_id", "idea_id"),
        # One open escalation per idea: two moderators escalating at once cannot both win.
        Index(
            "uq_moderation_flags_open_escalation",
            "idea_id",
            unique=True,
            sqlite_where=text("kind = 'escalated' AND resolved_by_id IS NULL"),
            postgresql_where=text("kind = 'escalated' AND resolved_by_id IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    idea_id: int = Field(foreign_key="ideas.id", ondelete="CASCADE")
    kind: str = Field(max_length=16)
    detail: str = Field(default="", max_length=200)  # the word, link or number found
    suggested_action: str = Field(max_length=20)
    similar_idea_id: int | None = Field(default=None, foreign_key="ideas.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # The decision that dealt with it; NULL while open. An undo reopens it.
    resolved_by_id: int | None = Field(
        default=None, foreign_key="moderation_decisions.id", ondelete="SET NULL"
    )


class Report(SQLModel, table=True):
    """A signed-in person says a published idea should not be there."""

    __tablename__ = "moderation_reports"
    __table_args__ = (
        UniqueConstraint("idea_id", "reporter_id", name="uq_moderation_reports_idea_reporter"),
        CheckConstraint(
            "status IN ('open', 'upheld', 'dismissed')", name="moderation_report_status"
        ),
        Index("ix_moderation_reports_status_idea", "status", "idea_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    idea_id: int = Field(foreign_key="ideas.id", ondelete="CASCADE")
    reporter_id: int = Field(foreign_key="users.id", ondelete="CASCADE")
    reason: str = Field(max_length=20)
    note: str = Field(default="", max_length=500)
    status: str = Field(default=ReportStatus.OPEN, max_length=12)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    resolved_by_id: int | None = Field(
        default=None, foreign_key="moderation_decisions.id", ondelete="SET NULL"
    )


class MergeCredit(SQLModel, table=True):
    """The author of a merged duplicate, credited on the idea it was merged into."""

    __tablename__ = "moderation_merge_credits"
    __table_args__ = (UniqueConstraint("source_idea_id", name="uq_merge_credits_source"),)

    id: int | None = Field(default=None, primary_key=True)
    target_idea_id: int = Field(foreign_key="ideas.id", index=True, ondelete="CASCADE")
    source_idea_id: int = Field(foreign_key="ideas.id", ondelete="CASCADE")
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ModerationSettings(SQLModel, table=True):
    """A brand's moderation rules. No row means the defaults below."""

    __tablename__ = "moderation_settings"
    __table_args__ = (CheckConstraint("report_threshold >= 1", name="moderation_report_threshold"),)

    brand_id: int = Field(foreign_key="brands.id", primary_key=True, ondelete="CASCADE")
    auto_reject_spam: bool = Field(default=False)
    report_threshold: int = Field(default=3)
    # Words and phrases refused on top of the shipped English and French list.
    blocklist: list[str] = Field(default_factory=list, sa_type=JSON)
    # Built-in reason codes offered to moderators (translated for each author)...
    builtin_reasons: list[str] = Field(
        default_factory=lambda: ["off_topic", "duplicate", "offensive", "spam", "rules"],
        sa_type=JSON,
    )
    # ...and the brand's own reasons, shown as written.
    custom_reasons: list[str] = Field(default_factory=list, sa_type=JSON)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
