"""Tables of the jury stage: its settings, its criteria, the jurors' scores and its ranking."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from cocreate.clock import utcnow
from cocreate.types import UTCDateTime


class JuryPanel(SQLModel, table=True):
    """Settings and state of one jury stage."""

    __tablename__ = "jury_panels"
    __table_args__ = (CheckConstraint("picks >= 1", name="jury_panel_picks"),)

    stage_id: int = Field(foreign_key="stages.id", primary_key=True, ondelete="CASCADE")
    picks: int = Field(default=3)  # how many ideas the jury's scores select
    finalised_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finalised_by_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")


class JuryCriterion(SQLModel, table=True):
    __tablename__ = "jury_criteria"
    __table_args__ = (CheckConstraint("weight >= 1 AND weight <= 100", name="jury_weight"),)

    id: int | None = Field(default=None, primary_key=True)
    stage_id: int = Field(foreign_key="stages.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=80)
    description: str = Field(default="", max_length=300)
    weight: int = Field(default=1)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class JuryScore(SQLModel, table=True):
    """One juror's score of one idea on one criterion (0 to 10). Every change is audited."""

    __tablename__ = "jury_scores"
    __table_args__ = (
        UniqueConstraint("criterion_id", "idea_id", "juror_id"),
        CheckConstraint("score >= 0 AND score <= 10", name="jury_score_range"),
        Index("ix_jury_scores_stage_juror", "stage_id", "juror_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    stage_id: int = Field(foreign_key="stages.id", ondelete="CASCADE")
    criterion_id: int = Field(foreign_key="jury_criteria.id", ondelete="CASCADE")
    idea_id: int = Field(foreign_key="ideas.id")
    juror_id: int = Field(foreign_key="users.id")
    score: int
    scored_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class JuryOutcome(SQLModel, table=True):
    """The jury's ranking of one idea, written when the marketer closes the scoring."""

    __tablename__ = "jury_outcomes"
    __table_args__ = (Index("ix_jury_outcomes_position", "stage_id", "position", unique=True),)

    stage_id: int = Field(foreign_key="stages.id", primary_key=True, ondelete="CASCADE")
    idea_id: int = Field(foreign_key="ideas.id", primary_key=True)
    position: int
    average: float = Field(default=0.0)  # weighted average score, 0 to 10
    scores: int = Field(default=0)  # how many scores it is the average of
    picked: bool = Field(default=False)
