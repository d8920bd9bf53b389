"""Head-to-head tables: the choices (the log the ranking and the digest are computed from) and
one row of running statistics per idea (what the pair chooser reads).

Rules that protect the log live in the database too:

- a voter judges a pair at most once per round, whatever side each idea was shown on: a
  unique index on (round, voter, lower idea id, higher idea id). A retried request finds the
  first choice (the write is `INSERT ... ON CONFLICT DO NOTHING`), and the chooser's "never
  show a voter a pair they already judged" is a guarantee, not a hope;
- the pair's lower and higher ids are the shown pair's, in order (CHECKs), and an idea is
  never paired with itself;
- choices are never deleted: fraud review sets status `void`, as for votes.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    text,
)
from sqlmodel import Field, SQLModel

from cocreate.clock import utcnow
from cocreate.types import UTCDateTime


class Outcome(enum.StrEnum):
    LEFT = "left"  # the idea shown on the left was picked
    RIGHT = "right"
    TIE = "tie"  # "can't decide": half a win each (docs/voting.md, head-to-head)


class ChoiceStatus(enum.StrEnum):
    COUNTED = "counted"
    HELD = "held"  # kept for fraud review; not counted unless released
    VOID = "void"  # voided by review; kept as evidence


class HeadToHeadChoice(SQLModel, table=True):
    """One judgement of one pair by one voter, with the signals the fraud checks need."""

    __tablename__ = "head_to_head_choices"
    __table_args__ = (
        CheckConstraint("outcome IN ('left', 'right', 'tie')", name="h2h_choice_outcome"),
        CheckConstraint("status IN ('counted', 'held', 'void')", name="h2h_choice_status"),
        CheckConstraint("left_idea_id <> right_idea_id", name="h2h_choice_two_ideas"),
        CheckConstraint("low_idea_id < high_idea_id", name="h2h_choice_pair_order"),
        CheckConstraint(
            "(left_idea_id = low_idea_id AND right_idea_id = high_idea_id)"
            " OR (left_idea_id = high_idea_id AND right_idea_id = low_idea_id)",
            name="h2h_choice_pair_is_shown_pair",
        ),
        Index(
            "uq_h2h_choices_voter_pair",
            "round_id",
            "voter_id",
            "low_idea_id",
            "high_idea_id",
            unique=True,
        ),
        Index("ix_h2h_choices_round_cast", "round_id", "cast_at"),
        Index(
            "ix_h2h_choices_held",
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
            BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
        ),  # millions of choices; SQLite only autoincrements INTEGER PRIMARY KEY
    )
    round_id: int = Field(sa_column=Column(ForeignKey("rounds.id"), nullable=False))
    voter_id: int = Field(foreign_key="users.id")
    left_idea_id: int = Field(foreign_key="ideas.id")
    right_idea_id: int = Field(foreign_key="ideas.id")
    low_idea_id: int  # min(left, right): the pair whatever its sides
    high_idea_id: int  # max(left, right)
    outcome: str = Field(max_length=5)
    status: str = Field(default=ChoiceStatus.COUNTED, max_length=8)
    status_reason: str | None = Field(default=None, max_length=300)
    cast_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # The signals a vote stores (cocreate/voting/models.py Vote): no raw IP address.
    ip_hash: str | None = Field(default=None, max_length=64)
    ip_prefix_hash: str | None = Field(default=None, max_length=64)
    device_id: str | None = Field(default=None, max_length=64)
    user_agent: str | None = Field(default=None, max_length=300)
    risk_score: float = Field(default=0.0)
    risk_signals: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class HeadToHeadStats(SQLModel, table=True):
    """One idea's running statistics in a head-to-head round, kept current with each counted
    choice, for the pair chooser.

    `score` is an online estimate of the idea's Bradley-Terry strength (one diagonal Newton
    step per choice, `information` its accumulated Fisher information); the full estimate
    (`cocreate.headtohead.estimate`) replaces both when the statistics are rebuilt. The three
    indexes are the chooser's three reads: fewest comparisons, nearest score, and a uniformly
    random idea (`shuffle_key` is random, fixed at entry), each an index range scan whatever
    the round's size.
    """

    __tablename__ = "head_to_head_stats"
    __table_args__ = (
        CheckConstraint("comparisons >= 0", name="h2h_stats_comparisons"),
        CheckConstraint("wins >= 0 AND losses >= 0 AND ties >= 0", name="h2h_stats_counts"),
        Index("ix_h2h_stats_fewest", "round_id", "active", "comparisons", "shuffle_key", "idea_id"),
        Index("ix_h2h_stats_score", "round_id", "active", "score", "shuffle_key", "idea_id"),
        Index("ix_h2h_stats_shuffle", "round_id", "active", "shuffle_key", "idea_id"),
    )

    round_id: int = Field(foreign_key="rounds.id", primary_key=True, ondelete="CASCADE")
    idea_id: int = Field(foreign_key="ideas.id", primary_key=True, ondelete="CASCADE")
    active: bool = Field(default=True)  # offered by the chooser (withdrawn ideas are not)
    shuffle_key: int  # random in [0, 2**31): ties in the chooser's orders are broken by it
    comparisons: int = Field(default=0)  # counted choices the idea took part in
    wins: int = Field(default=0)
    losses: int = Field(default=0)
    ties: int = Field(default=0)
    score: float = Field(default=0.0)  # log-strength; 0 is an average idea
    information: float = Field(default=1.0)  # prior precision plus what the choices added
