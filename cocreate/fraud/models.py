"""Fraud cases: what the vote-log analysis found, and what moderators decided about it.

A case's votes live in `fraud_case_votes`, one row per vote, not in a JSON list: voiding and
restoring thousands of votes are then set-based UPDATEs joined on this table, and the status
each vote had before the void is kept beside it so that the void can be undone exactly.
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
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from cocreate.clock import utcnow
from cocreate.types import UTCDateTime


class CaseStatus(enum.StrEnum):
    OPEN = "open"  # not decided yet; blocks certification when its score is high enough
    VOIDED = "voided"  # the case's votes are void (reversible: restore)
    CLEARED = "cleared"  # a moderator found no fraud


class FraudCase(SQLModel, table=True):
    __tablename__ = "fraud_cases"
    __table_args__ = (
        CheckConstraint("kind IN ('ring', 'sockpuppets', 'burst')", name="fraud_case_kind"),
        CheckConstraint("status IN ('open', 'voided', 'cleared')", name="fraud_case_status"),
        CheckConstraint("score >= 0 AND score <= 1", name="fraud_case_score"),
        # Re-running the scan finds the same group again: it updates this row, not a new one.
        UniqueConstraint("round_id", "fingerprint", name="uq_fraud_cases_fingerprint"),
        Index("ix_fraud_cases_round_status", "round_id", "status", "score"),
    )

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="rounds.id", ondelete="CASCADE")
    campaign_id: int = Field(foreign_key="campaigns.id", index=True, ondelete="CASCADE")
    kind: str = Field(max_length=16)
    score: float
    status: str = Field(default=CaseStatus.OPEN, max_length=8)
    fingerprint: str = Field(max_length=64)  # SHA-256 of the kind, accounts and ideas
    voter_ids: list[int] = Field(default_factory=list, sa_type=JSON)
    idea_ids: list[int] = Field(default_factory=list, sa_type=JSON)
    votes: int = Field(default=0)  # how many votes the case holds
    # Display-safe: hash prefixes, never a raw signal; codes of the log mapped back to values.
    evidence: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    suspended_ids: list[int] = Field(default_factory=list, sa_type=JSON)  # by this case
    opened_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    scanned_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    decided_by_id: int | None = Field(default=None, foreign_key="users.id")
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decision_reason: str | None = Field(default=None, max_length=500)


class FraudCaseVote(SQLModel, table=True):
    """A vote of a case; `previous_status` is set while the case's void holds it void."""

    __tablename__ = "fraud_case_votes"
    __table_args__ = (Index("ix_fraud_case_votes_vote", "vote_id"),)

    case_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("fraud_cases.id", ondelete="CASCADE"), primary_key=True
        )
    )
    vote_id: int = Field(
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"),
            ForeignKey("votes.id"),
            primary_key=True,
        )
    )
    previous_status: str | None = Field(default=None, max_length=8)
