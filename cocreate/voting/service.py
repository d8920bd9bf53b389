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
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session, col, select

from cocreate.voting import store
from cocreate.voting.entrants import is_first_round
from cocreate.voting.methods import method_named, method_of
from cocreate.voting.models import Frequency, IdeaTally, Vote, VoteStatus

if TYPE_CHECKING:
    from cocreate.voting.open_round import CampaignLike, RoundLike, StageLike, Voter

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
    status_reason: str | None = None  # the fraud policy's decision, kept with the vote


@dataclass(frozen=True)
class VoteResult:
    outcome: Outcome
    votes_left: int | None = None
    points_left: int | None = None
    reason: str | None = None  # for INELIGIBLE: which rule
    # What the transaction saw of the idea, so that a page needs no query to show it:
    idea_title: str | None = None  # when the idea was checked (cast)
    tally: tuple[int, int] | None = None  # the idea's (votes, points) after a counted change


def period_of(round_: RoundLike, campaign: CampaignLike, now: datetime) -> int:
    """0 for a once-per-round ballot; else the day number in the campaign's time zone."""
    if round_.frequency != Frequency.DAILY:
        return 0
    return (now.astimezone(ZoneInfo(campaign.timezone)).date() - EPOCH).days


def period_ends_at(
    round_: RoundLike, campaign: CampaignLike, period: int, stage: StageLike
) -> datetime:
    """When the ballot of `period` stops being the current one (for "votes again in ...")."""
    if round_.frequency != Frequency.DAILY:
        return stage.closes_at
    zone = ZoneInfo(campaign.timezone)
    day = EPOCH + timedelta(days=period + 1)
    return datetime(day.year, day.month, day.day, tzinfo=zone)


def eligibility_problem(
    round_: RoundLike, voter: Voter, now: datetime, country: str | None
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


def allowance(round_: RoundLike) -> tuple[int, int]:
    """(votes, points) of a fresh ballot of the round (its method says)."""
    return method_of(round_).allowance(round_)


def points_spent(method: str, weight: int) -> int:
    """The points a vote of `weight` takes from its ballot (and a withdrawal gives back)."""
    return method_named(method).points_spent(weight)


def _first_round(session: Session, round_: RoundLike, first_round: bool | None) -> bool:
    if first_round is not None:
        return first_round
    return is_first_round(session=session, round_=round_)


def _left(session: Session, round_: RoundLike, voter_id: int, period: int) -> tuple[int, int]:
    """What the voter has left in this period (the whole allowance before any vote)."""
    assert round_.id is not None
    found = store.left(session, round_id=round_.id, voter_id=voter_id, period=period)
    return allowance(round_) if found is None else found


def cast_vote(
    *,
    session: Session,
    round_: RoundLike,
    campaign: CampaignLike,
    stage: StageLike,
    voter: Voter,
    idea_id: int,
    now: datetime,
    weight: int = 1,
    country: str | None = None,
    signals: Signals | None = None,
    first_round: bool | None = None,
) -> VoteResult:
    """Cast one vote on one idea (`weight`: the points given, when the round's method takes
    points; other methods record what they record). Idempotent.

    The store inserts the vote if the idea may take it and unless a live vote exists (a
    double click stores nothing), spends the allowance (CHECK >= 0 backs it) and adds to the
    idea's tally, all or nothing (`store.cast`).
    """
    assert round_.id is not None and voter.id is not None
    signals = signals or Signals()
    if not (stage.opens_at <= now < stage.closes_at) or round_.certified_at is not None:
        return VoteResult(Outcome.CLOSED)
    problem = eligibility_problem(round_, voter, now, country)
    if problem is not None:
        return VoteResult(Outcome.INELIGIBLE, reason=problem)
    weight = method_of(round_).weight(weight) or 0  # what one vote of its method records
    period = period_of(round_, campaign, now)
    if weight < 1:
        return VoteResult(Outcome.NO_VOTES_LEFT, *_left(session, round_, voter.id, period))
    votes_allowed, budget = allowance(round_)
    spent = points_spent(round_.method, weight)
    status = VoteStatus.HELD if signals.hold else VoteStatus.COUNTED
    values = {
        "round_id": round_.id,
        "voter_id": voter.id,
        "idea_id": idea_id,
        "period": period,
        "weight": weight,
        "status": status.value,
        "cast_at": now,
        "ip_hash": signals.ip_hash,
        "ip_prefix_hash": signals.ip_prefix_hash,
        "device_id": signals.device_id,
        "user_agent": (signals.user_agent or "")[:300] or None,
        "risk_score": signals.risk_score,
        "risk_signals": signals.risk_signals,
        "status_reason": signals.status_reason,
        "campaign_id": round_.campaign_id,
        "first_round": _first_round(session, round_, first_round),
        "votes_left": votes_allowed - 1,
        "points_left": budget - spent,
        "spent": spent,
        "counted": status == VoteStatus.COUNTED,
    }
    row = store.cast(session, values)
    if row.conflict:  # only a constraint nothing here foresaw; nothing was stored
        return VoteResult(Outcome.ALREADY, *_left(session, round_, voter.id, period))
    if row.overspent:
        left = _left(session, round_, voter.id, period)
        title = row.title or store.entrant_title(session, values)
        return VoteResult(Outcome.NO_VOTES_LEFT, *left, idea_title=title)
    if row.title is None:
        return VoteResult(Outcome.NOT_ENTRANT)
    if not row.inserted:  # a live vote for this idea exists: a retry or a double click
        left = _left(session, round_, voter.id, period)
        return VoteResult(Outcome.ALREADY, *left, idea_title=row.title)
    assert row.left is not None
    outcome = Outcome.COUNTED if status == VoteStatus.COUNTED else Outcome.HELD
    return VoteResult(outcome, *row.left, idea_title=row.title, tally=row.tally)


def withdraw_vote(
    *,
    session: Session,
    round_: RoundLike,
    campaign: CampaignLike,
    stage: StageLike,
    voter: Voter,
    idea_id: int,
    now: datetime,
) -> VoteResult:
    """Take back today's (or this round's) vote for an idea; the row stays, marked withdrawn."""
    assert round_.id is not None and voter.id is not None
    if not (stage.opens_at <= now < stage.closes_at) or round_.certified_at is not None:
        return VoteResult(Outcome.CLOSED)
    period = period_of(round_, campaign, now)
    done = store.withdraw(
        session,
        round_id=round_.id,
        voter_id=voter.id,
        idea_id=idea_id,
        period=period,
        now=now,
        points_per_weight=points_spent(round_.method, 1),
    )
    if done is None:
        return VoteResult(Outcome.NOT_FOUND, *_left(session, round_, voter.id, period))
    left, tally = done
    return VoteResult(Outcome.WITHDRAWN, *left, tally=tally)


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
    *, session: Session, round_: RoundLike, campaign: CampaignLike, voter_id: int, now: datetime
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
