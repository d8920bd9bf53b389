"""Voting tables. Every rule that protects the count lives in the database too:

- one live vote per (round, voter, idea, period): a partial unique index, so two racing
  requests cannot both store a vote, and a retried request finds the first one;
- a voter's allowance per period is a Ballot row whose `votes_left` and `points_left` have
  CHECK (>= 0) constraints: spending is a conditional UPDATE that fails when nothing is left;
- votes are never deleted: unvoting sets `withdrawn_at`, fraud review sets status `void`.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

from cocreate.clock import utcnow
from cocreate.types import UTCDateTime

if TYPE_CHECKING:
    from cocreate.voting.methods import VotingMethod


class Frequency(enum.StrEnum):
    ONCE = "once"  # one ballot for the whole round
    DAILY = "daily"  # a fresh ballot every day, in the campaign's time zone


class Visibility(enum.StrEnum):
    HIDDEN = "hidden"
    RANKS = "ranks"
    LIVE = "live"


class Advancement(enum.StrEnum):
    TOP_N = "top_n"
    TOP_PERCENT = "top_percent"
    MIN_VOTES = "min_votes"
    JURY = "jury"


class TieBreak(enum.StrEnum):
    EARLIER_SUBMISSION = "earlier_submission"
    JURY = "jury"


class VoteStatus(enum.StrEnum):
    COUNTED = "counted"
    HELD = "held"  # kept for fraud review; not counted unless released
    VOID = "void"  # voided by review; kept as evidence


class Round(SQLModel, table=True):
    """The settings of one voting stage."""

    __tablename__ = "rounds"
    __table_args__ = (
        CheckConstraint("frequency IN ('once', 'daily')", name="round_frequency"),
        CheckConstraint("visibility IN ('hidden', 'ranks', 'live')", name="round_visibility"),
        CheckConstraint(
            "advancement IN ('top_n', 'top_percent', 'min_votes', 'jury')",
            name="round_advancement",
        ),
        CheckConstraint("tie_break IN ('earlier_submission', 'jury')", name="round_tie_break"),
        CheckConstraint("max_votes >= 1", name="round_max_votes"),
        CheckConstraint("points_budget >= 0", name="round_points_budget"),
    )

    id: int | None = Field(default=None, primary_key=True)
    stage_id: int = Field(foreign_key="stages.id", unique=True, ondelete="CASCADE")
    campaign_id: int = Field(foreign_key="campaigns.id", index=True, ondelete="CASCADE")
    # The round's voting method: a name in `cocreate.voting.methods.registry` (the registry,
    # not a CHECK, says which exist: a new method needs no migration).
    method: str = Field(default="approval", max_length=16)
    max_votes: int = Field(default=5)  # approval: ideas per ballot; ranked: ideas ranked
    points_budget: int = Field(default=0)  # points: budget per ballot
    frequency: str = Field(default=Frequency.ONCE, max_length=16)
    require_verified_email: bool = Field(default=True)
    min_account_age_days: int = Field(default=0)
    countries: list[str] = Field(default_factory=list, sa_type=JSON)  # empty: anywhere
    advancement: str = Field(default=Advancement.TOP_N, max_length=16)
    advancement_value: int = Field(default=10)
    tie_break: str = Field(default=TieBreak.EARLIER_SUBMISSION, max_length=24)
    visibility: str = Field(default=Visibility.LIVE, max_length=16)
    fraud_policy: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    certified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    digest: str | None = Field(default=None, max_length=64)  # SHA-256 of the vote log

    @property
    def voting_method(self) -> VotingMethod:
        """The round's voting method (templates ask it what to show)."""
        from cocreate.voting.methods import method_named

        return method_named(self.method)


class RoundEntrant(SQLModel, table=True):
    """An idea that takes part in a round after the first (the first takes every approved)."""

    __tablename__ = "round_entrants"

    round_id: int = Field(foreign_key="rounds.id", primary_key=True, ondelete="CASCADE")
    idea_id: int = Field(foreign_key="ideas.id", primary_key=True, ondelete="CASCADE")
    advanced_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Ballot(SQLModel, table=True):
    """A voter's allowance for one period of a round (the whole round, or one day)."""

    __tablename__ = "ballots"
    __table_args__ = (
        UniqueConstraint("round_id", "voter_id", "period"),
        CheckConstraint("votes_left >= 0", name="ballot_votes_left"),
        CheckConstraint("points_left >= 0", name="ballot_points_left"),
    )

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="rounds.id", ondelete="CASCADE")
    voter_id: int = Field(foreign_key="users.id", index=True)
    period: int  # 0 for a once-per-round ballot; else days since 1970-01-01, campaign time
    votes_left: int
    points_left: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Vote(SQLModel, table=True):
    """One vote, with the signals the fraud checks need. Never deleted."""

    __tablename__ = "votes"
    __table_args__ = (
        CheckConstraint("status IN ('counted', 'held', 'void')", name="vote_status"),
        CheckConstraint("weight >= 0", name="vote_weight"),
        # One live vote per voter, idea and period; withdrawn votes stay as history.
        Index(
            "uq_votes_live",
            "round_id",
            "voter_id",
            "idea_id",
            "period",
            unique=True,
            sqlite_where=text("withdrawn_at IS NULL"),
            postgresql_where=text("withdrawn_at IS NULL"),
        ),
        Index("ix_votes_round_idea", "round_id", "idea_id"),
        Index("ix_votes_round_cast", "round_id", "cast_at"),
        # The held votes page and the certification gate read only held votes: a handful
        # among a round's million, so a partial index keeps both at a few index pages.
        Index(
            "ix_votes_held",
            "round_id",
            "voter_id",
            "cast_at",
            sqlite_where=text("status = 'held'"),
            postgresql_where=text("status = 'held'"),
        ),
    )

    id: int | None = Field(
        default=None,
        sa_column=Column(
            # 64-bit ids for millions of votes; SQLite only autoincrements INTEGER PRIMARY KEY.
            BigInteger().with_variant(Integer(), "sqlite"),
            primary_key=True,
        ),
    )
    round_id: int = Field(sa_column=Column(ForeignKey("rounds.id"), nullable=False))
    voter_id: int = Field(foreign_key="users.id")
    idea_id: int = Field(foreign_key="ideas.id")
    period: int = Field(default=0)
    weight: int = Field(default=1)  # 1; points given; or for ranked, the rank (1 = first)
    status: str = Field(default=VoteStatus.COUNTED, max_length=8)
    cast_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    withdrawn_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Signals (raw IP addresses are never stored: salted hashes, salt rotated per campaign).
    ip_hash: str | None = Field(default=None, max_length=64)
    ip_prefix_hash: str | None = Field(default=None, max_length=64)  # /24 (IPv4) or /64 (IPv6)
    device_id: str | None = Field(default=None, max_length=64)
    user_agent: str | None = Field(default=None, max_length=300)
    risk_score: float = Field(default=0.0)
    risk_signals: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    status_reason: str | None = Field(default=None, max_length=300)


class IdeaTally(SQLModel, table=True):
    """Counted votes per idea per round, kept current in the vote's own transaction.

    The results page reads these; certification recounts from the vote log and must match.
    """

    __tablename__ = "idea_tallies"
    __table_args__ = (
        CheckConstraint("votes >= 0", name="tally_votes"),
        # The gallery's "most voted" of a round, walked in order (voting.gallery_counts).
        Index("ix_idea_tallies_round_votes", "round_id", "votes", "idea_id"),
    )

    round_id: int = Field(foreign_key="rounds.id", primary_key=True, ondelete="CASCADE")
    idea_id: int = Field(foreign_key="ideas.id", primary_key=True, ondelete="CASCADE")
    votes: int = Field(default=0)  # counted votes
    points: int = Field(default=0)  # sum of counted weights (points method)


class DeclaredCountry(SQLModel, table=True):
    """The country a voter says they live in, for rounds open to some countries only.

    Declared once per campaign and kept: a voter cannot try country after country.
    """

    __tablename__ = "declared_countries"

    campaign_id: int = Field(foreign_key="campaigns.id", primary_key=True, ondelete="CASCADE")
    voter_id: int = Field(foreign_key="users.id", primary_key=True)
    country: str = Field(max_length=2)
    declared_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RoundPairwise(SQLModel, table=True):
    """The Schulze matrices of a certified ranked round, for the results page (written by the
    ranked method when the round is certified: `methods.ranked.Ranked.certified`)."""

    __tablename__ = "round_pairwise"

    round_id: int = Field(foreign_key="rounds.id", primary_key=True)
    idea_id: int = Field(foreign_key="ideas.id", primary_key=True)
    other_id: int = Field(foreign_key="ideas.id", primary_key=True)
    preferred: int = Field(default=0)  # voters who rank idea above other
    strongest: int = Field(default=0)  # strength of the strongest path idea -> other
