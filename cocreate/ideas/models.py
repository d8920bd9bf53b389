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
        # The gallery's keyset pages: (sort key, id) after equality on campaign and status.
        Index("ix_ideas_gallery_newest", "campaign_id", "status", "submitted_at", "id"),
        Index("ix_ideas_gallery_votes", "campaign_id", "status", "vote_count", "id"),
        Index("ix_ideas_gallery_random", "campaign_id", "status", "random_key", "id"),
        Index("ix_ideas_author", "author_id", "campaign_id"),
        # Who may fetch an image's files is looked up by its key on every media request.
        Index("ix_ideas_image_key", "image_key"),
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
    # public until a moderator decides (see cocreate.ideas.visibility.publicly_visible).
    hidden_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class IdeaTerm(SQLModel, table=True):
    """One folded word of an idea's title or description, for prefix look-ups.

    The primary key is (campaign, in_title, term, idea): look-alike titles read one index
    range ("title words of this campaign starting with 'choco'"), the gallery search reads two
    (in_title false and true). The (idea, term) index answers "has this idea a word starting
    with 'choco'?" when the database walks the gallery in order instead. Status is not copied
    here (moderation changes it): look-ups join `ideas`. Rewritten when the text changes.
    """

    __tablename__ = "idea_terms"
    __table_args__ = (
        Index("ix_idea_terms_idea_term", "idea_id", "term"),
        {"sqlite_with_rowid": False},
    )

    campaign_id: int = Field(foreign_key="campaigns.id", primary_key=True, ondelete="CASCADE")
    in_title: bool = Field(primary_key=True)
    term: str = Field(primary_key=True, max_length=40)
    idea_id: int = Field(foreign_key="ideas.id", primary_key=True, ondelete="CASCADE")
