"""Casting and withdrawing votes, and counting them. Correct under any concurrency.

A vote is one short transaction: spend the ballot's allowance with a conditional UPDATE
(CHECK constraints forbid going below zero), insert the vote (a partial unique index forbids a
second live vote for the same idea and period), bump the idea's tally row. If two requests
race, the database lets exactly one through; the other rolls back whole and reports the vote
that exists, so a retried request is idempotent.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from cocreate.accounts.models import User
from cocreate.campaigns.models import Campaign, Stage, StageKind
from cocreate.db import begin_write
from cocreate.ideas.models import Idea, IdeaStatus
from cocreate.voting.models import (
    Ballot,
    Frequency,
    IdeaTally,
    Method,
    Round,
    RoundEntrant,
    Vote,
    VoteStatus,
)

EPOCH = date(1970, 1, 1)


class Outcome(enum.StrEnum):
    COUNTED = "counted"
    HELD = "held"
    ALREADY = "already"  # this vote exists already (double click, retry): nothing changed
    NO_VOTES_LEFT = "no_votes_left"
    NOT_ENTRANT = "not_entrant"
    CLOSED = "closed"
    INELIGIBLE = "ineligible"
    WITHDRAWN = "withdrawn"
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class Signals:
    """What the fraud checks need from the request; raw IP addresses never get here."""

    ip_hash: str | None = None
    ip_prefix_hash: str | None = None
    device_id: str | None = None
    user_agent: str | None = None
    risk_score: float = 0.0
    risk_signals: dict[str, Any] = field(default_factory=dict)
    hold: bool = False  # the fraud policy asks to hold the vote for review


@dataclass(frozen=True)
class VoteResult:
    outcome: Outcome
    votes_left: int | None = None
    points_left: int | None = None
    reason: str | None = None  # for INELIGIBLE: which rule


def period_of(round_: Round, campaign: Campaign, now: datetime) -> int:
    """0 for a once-per-round ballot; else the day number in the campaign's time zone."""
    if round_.frequency != Frequency.DAILY:
        return 0
    return (now.astimezone(ZoneInfo(campaign.timezone)).date() - EPOCH).days


def period_ends_at(round_: Round, campaign: Campaign, period: int, stage: Stage) -> datetime:
    """When the ballot of `period` stops being the current one (for "votes again in ...")."""
    if round_.frequency != Frequency.DAILY:
        return stage.closes_at
    zone = ZoneInfo(campaign.timezone)
    day = EPOCH + timedelta(days=period + 1)
    return datetime(day.year, day.month, day.day, tzinfo=zone)


def eligibility_problem(
    round_: Round, voter: User, now: datetime, country: str | None
) -> str | None:
    """The first rule the voter does not meet (a code), or None."""
    if not voter.is_active:
        return "inactive"
    if round_.require_verified_email and not voter.is_verified:
        return "unverified"
    if round_.min_account_age_days and voter.created_at > now - timedelta(
        days=round_.min_account_age_days
    ):
        return "account_too_new"
    if round_.countries and (country or "").upper() not in {c.upper() for c in round_.countries}:
        return "country"
    return None


def is_entrant(
    *, session: Session, round_: Round, idea_id: int, first_round: bool | None = None
) -> bool:
    """Whether the idea takes part in the round. `first_round`, when the caller knows it
    already, saves the query that finds out."""
    idea = session.get(Idea, idea_id)
    if idea is None or idea.campaign_id != round_.campaign_id:
        return False
    if idea.status != IdeaStatus.APPROVED:
        return False
    if first_round is None:
        first_round = _takes_every_approved_idea(session=session, round_=round_)
    if not first_round:
        return session.get(RoundEntrant, (round_.id, idea_id)) is not None
    return True


def _takes_every_approved_idea(*, session: Session, round_: Round) -> bool:
    """The campaign's first voting stage takes every approved idea; later ones, entrants.

    Earlier voting *stages* count, whether or not anyone has opened their settings yet.
    """
    this = select(Stage.position).where(Stage.id == round_.stage_id).scalar_subquery()
    earlier = session.exec(
        select(func.count())
        .select_from(Stage)
        .where(
            Stage.campaign_id == round_.campaign_id,
            Stage.kind == StageKind.VOTING,
            Stage.position < this,
        )
    ).one()
    return earlier == 0


def _insert(session: Session) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def _allowance(round_: Round) -> tuple[int, int]:
    if round_.method == Method.SINGLE:
        return 1, 0
    if round_.method == Method.POINTS:
        return round_.max_votes, round_.points_budget
    return round_.max_votes, 0


def _ballot(*, session: Session, round_: Round, voter_id: int, period: int) -> Ballot:
    votes, points = _allowance(round_)
    statement = (
        _insert(session)(Ballot)
        .values(
            round_id=round_.id,
            voter_id=voter_id,
            period=period,
            votes_left=votes,
            points_left=points,
        )
        .on_conflict_do_nothing(index_elements=["round_id", "voter_id", "period"])
    )
    session.execute(statement)
    return session.exec(
        select(Ballot).where(
            Ballot.round_id == round_.id, Ballot.voter_id == voter_id, Ballot.period == period
        )
    ).one()


def live_vote(
    *, session: Session, round_id: int, voter_id: int, idea_id: int, period: int
) -> Vote | None:
    return session.exec(
        select(Vote).where(
            Vote.round_id == round_id,
            Vote.voter_id == voter_id,
            Vote.idea_id == idea_id,
            Vote.period == period,
            col(Vote.withdrawn_at).is_(None),
        )
    ).first()


def cast_vote(
    *,
    session: Session,
    round_: Round,
    campaign: Campaign,
    stage: Stage,
    voter: User,
    idea_id: int,
    now: datetime,
    weight: int = 1,
    country: str | None = None,
    signals: Signals | None = None,
    first_round: bool | None = None,
) -> VoteResult:
    """Cast one vote (approval, single, or points with `weight` points). Idempotent."""
    assert round_.id is not None and voter.id is not None
    signals = signals or Signals()
    if not (stage.opens_at <= now < stage.closes_at) or round_.certified_at is not None:
        return VoteResult(Outcome.CLOSED)
    problem = eligibility_problem(round_, voter, now, country)
    if problem is not None:
        return VoteResult(Outcome.INELIGIBLE, reason=problem)
    if round_.method != Method.POINTS:
        weight = 1
    if weight < 1:
        return VoteResult(Outcome.NO_VOTES_LEFT)
    period = period_of(round_, campaign, now)
    begin_write(session)
    try:
        if not is_entrant(session=session, round_=round_, idea_id=idea_id, first_round=first_round):
            session.rollback()
            return VoteResult(Outcome.NOT_ENTRANT)
        existing = live_vote(
            session=session, round_id=round_.id, voter_id=voter.id, idea_id=idea_id, period=period
        )
        if existing is not None:
            ballot = _ballot(session=session, round_=round_, voter_id=voter.id, period=period)
            session.rollback()
            return VoteResult(Outcome.ALREADY, ballot.votes_left, ballot.points_left)
        ballot = _ballot(session=session, round_=round_, voter_id=voter.id, period=period)
        spent = session.execute(
            update(Ballot)
            .where(
                col(Ballot.id) == ballot.id,
                col(Ballot.votes_left) >= 1,
                col(Ballot.points_left) >= (weight if round_.method == Method.POINTS else 0),
            )
            .values(
                votes_left=Ballot.votes_left - 1,
                points_left=Ballot.points_left - (weight if round_.method == Method.POINTS else 0),
            )
        )
        if spent.rowcount != 1:  # type: ignore[attr-defined]
            session.rollback()
            return VoteResult(Outcome.NO_VOTES_LEFT, ballot.votes_left, ballot.points_left)
        status = VoteStatus.HELD if signals.hold else VoteStatus.COUNTED
        session.add(
            Vote(
                round_id=round_.id,
                voter_id=voter.id,
                idea_id=idea_id,
                period=period,
                weight=weight,
                status=status,
                cast_at=now,
                ip_hash=signals.ip_hash,
                ip_prefix_hash=signals.ip_prefix_hash,
                device_id=signals.device_id,
                user_agent=(signals.user_agent or "")[:300] or None,
                risk_score=signals.risk_score,
                risk_signals=signals.risk_signals,
            )
        )
        session.flush()
        if status == VoteStatus.COUNTED:
            _add_to_tally(
                session=session, round_id=round_.id, idea_id=idea_id, votes=1, points=weight
            )
        session.commit()
    except IntegrityError:
        # Another request stored this very vote between our check and our insert.
        session.rollback()
        return VoteResult(Outcome.ALREADY, *_left(session, round_, voter.id, period))
    votes_left, points_left = _left(session, round_, voter.id, period)
    outcome = Outcome.HELD if status == VoteStatus.HELD else Outcome.COUNTED
    return VoteResult(outcome, votes_left, points_left)


def withdraw_vote(
    *,
    session: Session,
    round_: Round,
    campaign: Campaign,
    stage: Stage,
    voter: User,
    idea_id: int,
    now: datetime,
) -> VoteResult:
    """Take back today's (or this round's) vote for an idea; the row stays, marked withdrawn."""
    assert round_.id is not None and voter.id is not None
    if not (stage.opens_at <= now < stage.closes_at) or round_.certified_at is not None:
        return VoteResult(Outcome.CLOSED)
    period = period_of(round_, campaign, now)
    begin_write(session)
    vote = live_vote(
        session=session, round_id=round_.id, voter_id=voter.id, idea_id=idea_id, period=period
    )
    if vote is None:
        session.rollback()
        return VoteResult(Outcome.NOT_FOUND, *_left(session, round_, voter.id, period))
    taken = session.execute(
        update(Vote)
        .where(col(Vote.id) == vote.id, col(Vote.withdrawn_at).is_(None))
        .values(withdrawn_at=now)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        return VoteResult(Outcome.NOT_FOUND, *_left(session, round_, voter.id, period))
    points = vote.weight if round_.method == Method.POINTS else 0
    session.execute(
        update(Ballot)
        .where(
            col(Ballot.round_id) == round_.id,
            col(Ballot.voter_id) == voter.id,
            col(Ballot.period) == period,
        )
        .values(votes_left=Ballot.votes_left + 1, points_left=Ballot.points_left + points)
    )
    if vote.status == VoteStatus.COUNTED:
        _add_to_tally(
            session=session, round_id=round_.id, idea_id=idea_id, votes=-1, points=-vote.weight
        )
    session.commit()
    return VoteResult(Outcome.WITHDRAWN, *_left(session, round_, voter.id, period))


def _left(session: Session, round_: Round, voter_id: int, period: int) -> tuple[int, int]:
    ballot = session.exec(
        select(Ballot).where(
            Ballot.round_id == round_.id, Ballot.voter_id == voter_id, Ballot.period == period
        )
    ).first()
    if ballot is None:
        return _allowance(round_)
    session.refresh(ballot)
    return ballot.votes_left, ballot.points_left


def _add_to_tally(
    *, session: Session, round_id: int, idea_id: int, votes: int, points: int
) -> None:
    if votes < 0:  # taking back: the row exists (the vote was counted into it)
        session.execute(
            update(IdeaTally)
            .where(col(IdeaTally.round_id) == round_id, col(IdeaTally.idea_id) == idea_id)
            .values(votes=IdeaTally.votes + votes, points=IdeaTally.points + points)
        )
        return
    statement = _insert(session)(IdeaTally).values(
        round_id=round_id, idea_id=idea_id, votes=votes, points=points
    )
    statement = statement.on_conflict_do_update(
        index_elements=["round_id", "idea_id"],
        set_={"votes": IdeaTally.votes + votes, "points": IdeaTally.points + points},
    )
    session.execute(statement)


def counted_votes_query(round_id: int) -> Any:
    return (
        select(Vote.idea_id, func.count(), func.coalesce(func.sum(Vote.weight), 0))
        .where(
            Vote.round_id == round_id,
            Vote.status == VoteStatus.COUNTED,
            col(Vote.withdrawn_at).is_(None),
        )
        .group_by(col(Vote.idea_id))
    )


def recount(*, session: Session, round_id: int) -> dict[int, tuple[int, int]]:
    """Idea -> (votes, points) recounted from the vote log (counted, not withdrawn)."""
    return {idea: (int(n), int(p)) for idea, n, p in session.execute(counted_votes_query(round_id))}


def live_tally(*, session: Session, round_id: int) -> dict[int, tuple[int, int]]:
    rows = session.exec(select(IdeaTally).where(IdeaTally.round_id == round_id))
    return {t.idea_id: (t.votes, t.points) for t in rows if t.votes or t.points}


def my_votes(
    *, session: Session, round_: Round, campaign: Campaign, voter_id: int, now: datetime
) -> Sequence[Vote]:
    period = period_of(round_, campaign, now)
    return session.exec(
        select(Vote).where(
            Vote.round_id == round_.id,
            Vote.voter_id == voter_id,
            Vote.period == period,
            col(Vote.withdrawn_at).is_(None),
        )
    ).all()
