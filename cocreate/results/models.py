"""Tables of results, certification and the winners' announcement.

Certified results are frozen rows: nothing updates `round_results` after certification except
the jury's decision on ideas left undecided (`advanced IS NULL`), which is audited. The
results pages read these rows (or the live `idea_tallies` while a round is open), never the
vote log itself. (A ranked round's matrices are the ranked method's: `voting.models`; the
jury's tables are the jury's: `cocreate.jury.models`.)
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, Text
from sqlmodel import Field, SQLModel

from cocreate.clock import utcnow
from cocreate.types import UTCDateTime


class RoundResult(SQLModel, table=True):
    """One idea's certified standing in a round. Written once, at certification."""

    __tablename__ = "round_results"
    __table_args__ = (
        Index("ix_round_results_position", "round_id", "position", unique=True),
        CheckConstraint("position >= 1", name="round_result_position"),
        CheckConstraint("rank >= 1", name="round_result_rank"),
    )

    # No ON DELETE CASCADE: a certified result outlives nothing it refers to by accident.
    round_id: int = Field(foreign_key="rounds.id", primary_key=True)
    idea_id: int = Field(foreign_key="ideas.id", primary_key=True)
    position: int  # 1.. in the published order (ties ordered by the round's tie-break rule)
    rank: int  # shared by equal scores ("1, 2, 2, 4")
    tied: bool = Field(default=False)  # shares its rank with another idea
    votes: int = Field(default=0)  # counted votes (ranked: ballots that list the idea)
    points: int = Field(default=0)  # sum of counted weights (points; ranked: sum of ranks)
    score: int = Field(default=0)  # what the order is by: votes, points or Schulze wins
    advanced: bool | None = Field(default=None)  # None: the jury has still to decide


class RoundCertification(SQLModel, table=True):
    """Who certified a round, and the figures of that moment."""

    __tablename__ = "round_certifications"

    round_id: int = Field(foreign_key="rounds.id", primary_key=True)
    certified_by_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    votes_in_log: int = Field(default=0)  # every vote row, withdrawn, held and void included
    counted_votes: int = Field(default=0)
    counted_points: int = Field(default=0)
    ideas: int = Field(default=0)  # rows of round_results (entrants, and any idea voted for)
    entrants: int = Field(default=0)  # ideas that could go on (approved entrants)
    seats: int = Field(default=0)  # how many ideas go on in all (jury decisions included)


class VoteLogKey(SQLModel, table=True):
    """The per-campaign key that turns voter ids into pseudonyms in the published vote log.

    Per campaign, so a voter cannot be followed from one campaign's log to another's; kept in
    the database (not derived from the secret key) so rotating the secret key does not change
    a certified digest.
    """

    __tablename__ = "vote_log_keys"

    campaign_id: int = Field(foreign_key="campaigns.id", primary_key=True, ondelete="CASCADE")
    key: str = Field(max_length=64)  # 32 random bytes, hex
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Announcement(SQLModel, table=True):
    """The brand's words on the winners page (markdown, rendered then sanitised)."""

    __tablename__ = "announcements"

    campaign_id: int = Field(foreign_key="campaigns.id", primary_key=True, ondelete="CASCADE")
    body: str = Field(default="", sa_type=Text)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_by_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
