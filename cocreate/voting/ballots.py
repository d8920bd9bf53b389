"""The voter's side of a round: which round is open, its entrants, the voter's ballot, the
ranked ballot, and the country a voter declares. Casting single votes is `service.cast_vote`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from markupsafe import Markup
from sqlalchemy import bindparam
from sqlalchemy import select as core_select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from cocreate.accounts.models import User
from cocreate.campaigns.models import Stage, StageKind
from cocreate.db import begin_write
from cocreate.ideas.models import Idea
from cocreate.voting.entrants import on_ballot
from cocreate.voting.methods import method_of
from cocreate.voting.models import (
    Ballot,
    DeclaredCountry,
    IdeaTally,
    Visibility,
    Vote,
)
from cocreate.voting.open_round import CampaignRound as CampaignRound
from cocreate.voting.open_round import OpenRound as OpenRound
from cocreate.voting.open_round import RoundLike
from cocreate.voting.open_round import find_open_round as find_open_round
from cocreate.voting.service import (
    VoteResult,
    allowance,
    eligibility_problem,
    period_ends_at,
    period_of,
)

IDEAS = Idea.__table__  # type: ignore[attr-defined]
TALLIES = IdeaTally.__table__  # type: ignore[attr-defined]


def voting_stages(stages: Sequence[Stage]) -> list[Stage]:
    return [s for s in sorted(stages, key=lambda s: s.position) if s.kind == StageKind.VOTING]


# --- Entrants and what the voter sees of the counts ------------------------------------------


def entrants(*, session: Session, round_: RoundLike, first_round: bool) -> list[Idea]:
    """The ideas a voter can vote for in this round."""
    query = select(Idea).where(on_ballot(round_, first_round=first_round))
    return list(session.exec(query.order_by(col(Idea.id))).all())


@dataclass(frozen=True)
class EntrantView:
    idea_id: int
    title: str
    description: str  # the ballot page shows its start; an htmx answer does not need it
    my_weight: int | None  # None: the voter has no live vote for it; else 1, points or rank
    count: int | None  # shown only when the round shows live counts
    rank: int | None  # shown when the round shows ranks or live counts
    picture_url: str | None = None  # the ballot page's thumbnail of the idea's photo
    summary_html: Markup | None = None  # the ballot page's rendered start of the description

    @property
    def voted(self) -> bool:
        return self.my_weight is not None


def _shuffle_key(seed: str, idea_id: int) -> bytes:
    return hashlib.sha256(f"{seed}:{idea_id}".encode()).digest()


def order_entrants(
    ideas: Sequence[Idea],
    *,
    round_: RoundLike,
    tally: dict[int, tuple[int, int]],
    seed: str,
) -> list[tuple[Idea, int | None]]:
    """Ideas in the order the ballot shows them, with their rank when the round shows ranks.

    Hidden counts: an order of the voter's own (the same on every visit), so that no idea wins
    votes just by being listed first. Ranks or live counts: by score, ties by earlier
    submission.
    """
    if round_.visibility == Visibility.HIDDEN:
        return [(i, None) for i in sorted(ideas, key=lambda i: _shuffle_key(seed, i.id or 0))]
    method = method_of(round_)

    def score(idea: Idea) -> int:
        return method.score(*tally.get(idea.id or 0, (0, 0)))

    ordered = sorted(
        ideas,
        key=lambda i: (-score(i), i.submitted_at or i.created_at, i.id or 0),
    )
    ranked: list[tuple[Idea, int | None]] = []
    for position, idea in enumerate(ordered):
        shared = position + 1
        if ranked and score(ranked[-1][0]) == score(idea):
            shared = ranked[-1][1] or shared
        ranked.append((idea, shared))
    return ranked


def tally_of(*, session: Session, round_id: int) -> dict[int, tuple[int, int]]:
    rows = session.exec(select(IdeaTally).where(IdeaTally.round_id == round_id))
    return {t.idea_id: (t.votes, t.points) for t in rows}


def shown_count(round_: RoundLike, tally: dict[int, tuple[int, int]], idea_id: int) -> int | None:
    if round_.visibility != Visibility.LIVE:
        return None
    votes, points = tally.get(idea_id, (0, 0))
    return method_of(round_).score(votes, points)


def idea_title(*, session: Session, round_: RoundLike, idea_id: int) -> str | None:
    """The title of an idea of the round's campaign (for the answer to an unvote)."""
    row = (
        session.connection()
        .execute(_idea_title_query(), {"idea_id": idea_id, "campaign_id": round_.campaign_id})
        .first()
    )
    return None if row is None else str(row[0])


def idea_count(*, session: Session, round_: RoundLike, idea_id: int) -> int | None:
    """One idea's shown count (after a vote); None unless the round shows live counts."""
    if round_.visibility != Visibility.LIVE:
        return None
    row = (
        session.connection()
        .execute(_idea_tally_query(), {"round_id": round_.id, "idea_id": idea_id})
        .first()
    )
    return shown_count(round_, {idea_id: (int(row[0]), int(row[1]))} if row else {}, idea_id)


@cache
def _idea_title_query() -> Any:
    return core_select(IDEAS.c.title).where(
        IDEAS.c.id == bindparam("idea_id"), IDEAS.c.campaign_id == bindparam("campaign_id")
    )


@cache
def _idea_tally_query() -> Any:
    return core_select(TALLIES.c.votes, TALLIES.c.points).where(
        TALLIES.c.round_id == bindparam("round_id"), TALLIES.c.idea_id == bindparam("idea_id")
    )


# --- The voter's ballot -------------------------------------------------------------------------


@dataclass(frozen=True)
class BallotState:
    votes_left: int
    points_left: int
    max_votes: int
    points_budget: int
    my_votes: dict[int, int] = field(default_factory=dict)  # idea -> weight (1, points, rank)
    renews_at: datetime | None = None  # daily rounds: when a new ballot starts

    @property
    def votes_used(self) -> int:
        return self.max_votes - self.votes_left


def ballot_state(
    *, session: Session, open_round: OpenRound, voter_id: int, now: datetime
) -> BallotState:
    round_, campaign = open_round.round, open_round.campaign
    period = period_of(round_, campaign, now)
    votes, points = allowance(round_)
    found = session.exec(
        select(Ballot).where(
            Ballot.round_id == round_.id, Ballot.voter_id == voter_id, Ballot.period == period
        )
    ).first()
    if found is not None:
        votes, points = found.votes_left, found.points_left
    mine = session.exec(
        select(Vote.idea_id, Vote.weight).where(
            Vote.round_id == round_.id,
            Vote.voter_id == voter_id,
            Vote.period == period,
            col(Vote.withdrawn_at).is_(None),
        )
    ).all()
    renews = None
    if round_.frequency == "daily":
        renews = period_ends_at(round_, campaign, period, open_round.stage)
    fresh = allowance(round_)
    return BallotState(
        votes_left=votes,
        points_left=points,
        max_votes=fresh[0],
        points_budget=fresh[1],
        my_votes={idea_id: weight for idea_id, weight in mine},
        renews_at=renews,
    )


def my_weight(
    *, session: Session, open_round: OpenRound, voter_id: int, idea_id: int, now: datetime
) -> int | None:
    """The weight of the voter's live vote for one idea in the current period, or None."""
    period = period_of(open_round.round, open_round.campaign, now)
    found = session.exec(
        select(Vote.weight).where(
            Vote.round_id == open_round.round.id,
            Vote.voter_id == voter_id,
            Vote.idea_id == idea_id,
            Vote.period == period,
            col(Vote.withdrawn_at).is_(None),
        )
    ).first()
    return found


def state_after(round_: RoundLike, result: VoteResult) -> BallotState:
    """The counter after a vote, from what `cast_vote` returned (no query)."""
    max_votes, budget = allowance(round_)
    return BallotState(
        votes_left=max_votes if result.votes_left is None else result.votes_left,
        points_left=budget if result.points_left is None else result.points_left,
        max_votes=max_votes,
        points_budget=budget,
    )


# --- Eligibility: the country a voter declares --------------------------------------------------


def declared_country(*, session: Session, campaign_id: int, voter_id: int) -> str | None:
    found = session.get(DeclaredCountry, (campaign_id, voter_id))
    return found.country if found is not None else None


def declare_country(
    *, session: Session, campaign_id: int, voter_id: int, country: str, now: datetime
) -> str:
    """Record the voter's country for this campaign, once; returns the one on record."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    begin_write(session)
    session.execute(
        insert(DeclaredCountry)
        .values(campaign_id=campaign_id, voter_id=voter_id, country=country, declared_at=now)
        .on_conflict_do_nothing(index_elements=["campaign_id", "voter_id"])
    )
    session.commit()
    found = declared_country(session=session, campaign_id=campaign_id, voter_id=voter_id)
    assert found is not None
    return found


def voter_problem(
    *, session: Session, round_: RoundLike, voter: User, now: datetime
) -> tuple[str | None, str | None]:
    """(the first eligibility rule the voter does not meet, their declared country).

    "no_country": the round is open to some countries and the voter has not said where they
    live yet (only asked once every other rule is met).
    """
    country = None
    if round_.countries:
        assert voter.id is not None
        country = declared_country(
            session=session, campaign_id=round_.campaign_id, voter_id=voter.id
        )
    problem = eligibility_problem(round_, voter, now, country)
    if problem == "country" and country is None:
        problem = "no_country"
    return problem, country


def old_enough_at(round_: RoundLike, voter: User) -> datetime:
    return voter.created_at + timedelta(days=round_.min_account_age_days)


def entrants_among(
    *, session: Session, round_: RoundLike, first_round: bool, ids: Sequence[int]
) -> list[Idea]:
    query = select(Idea).where(
        col(Idea.id).in_(list(ids)), on_ballot(round_, first_round=first_round)
    )
    return list(session.exec(query).all())
