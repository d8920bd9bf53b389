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
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Boolean, Integer, bindparam, func, text, update
from sqlalchemy import select as core_select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from cocreate.accounts.models import User
from cocreate.campaigns.models import Campaign, Stage, StageKind
from cocreate.db import SessionTransaction, Transaction
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
    if idea.status != IdeaStatus.APPROVED or idea.hidden_at is not None:
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


VOTES = Vote.__table__  # type: ignore[attr-defined]
BALLOTS = Ballot.__table__  # type: ignore[attr-defined]
TALLIES = IdeaTally.__table__  # type: ignore[attr-defined]
IDEAS = Idea.__table__  # type: ignore[attr-defined]
ENTRANTS = RoundEntrant.__table__  # type: ignore[attr-defined]


def _bind(table: Any, name: str) -> Any:
    return bindparam(name, type_=table.c[name].type)


@dataclass(frozen=True)
class _Statements:
    """The statements of the vote path, built once per dialect with bound parameters.

    Building a SQLAlchemy expression and its cache key costs more than running it on
    SQLite; the vote endpoint is the hottest path of a campaign, so it reuses them.
    """

    entrant_first: Any  # title of an approved idea of the campaign
    entrant_later: Any  # the same, and whether it is a RoundEntrant of the round
    insert_vote: Any  # if an entrant, unless a live vote exists; returns its id and title
    spend: Any  # ballot upsert that only updates while enough is left; returns what is left
    add_tally: Any  # upsert; returns the idea's votes and points
    withdraw: Any  # mark the live vote withdrawn; returns its weight and status
    give_back: Any  # ballot update; returns what is left
    take_tally: Any  # tally update; returns the idea's votes and points
    left: Any  # what is left on a ballot
    cast_all: Any  # PostgreSQL: the whole vote in one statement (None on SQLite)


# PostgreSQL runs the four steps of a vote as one statement of data-modifying CTEs, each
# step feeding the next, sent with its COMMIT: a vote costs one round trip instead of five.
# A step that finds nothing to do (not an entrant, a live vote exists) yields no row, so the
# steps after it do nothing either and the caller reads which step stopped. A ballot that
# cannot pay makes the spend break its CHECK (votes_left, points_left >= 0): the statement
# fails whole, the vote row with it, and nothing is committed.
# The idea is found by its key alone (`keyed`, MATERIALIZED so that the planner cannot fold
# the status test into the lookup): without statistics (a table not yet analysed) PostgreSQL
# priced the (status, submitted_at, id) index as low as the primary key and scanned every
# approved idea's entry, 20 pages for 3,001 ideas, more with each vote's new idea version.
CAST_ALL_POSTGRESQL = """
WITH keyed AS MATERIALIZED (
    SELECT ideas.title, ideas.campaign_id, ideas.status, ideas.hidden_at FROM ideas
    WHERE ideas.id = :idea_id
), idea AS (
    SELECT keyed.title FROM keyed
    WHERE keyed.campaign_id = :campaign_id
      AND keyed.status = 'approved' AND keyed.hidden_at IS NULL
      AND (:first_round OR EXISTS (
          SELECT 1 FROM round_entrants
          WHERE round_entrants.round_id = :round_id AND round_entrants.idea_id = :idea_id))
), vote AS (
    INSERT INTO votes (round_id, voter_id, idea_id, period, weight, status, cast_at,
                       ip_hash, ip_prefix_hash, device_id, user_agent, risk_score, risk_signals,
                       status_reason)
    SELECT :round_id, :voter_id, :idea_id, :period, :weight, :status, :cast_at,
           :ip_hash, :ip_prefix_hash, :device_id, :user_agent, :risk_score, :risk_signals,
           :status_reason
    FROM idea
    ON CONFLICT (round_id, voter_id, idea_id, period) WHERE withdrawn_at IS NULL DO NOTHING
    RETURNING id
), spend AS (
    INSERT INTO ballots AS b (round_id, voter_id, period, votes_left, points_left, created_at)
    SELECT :round_id, :voter_id, :period, :votes_left, :points_left, :cast_at FROM vote
    ON CONFLICT (round_id, voter_id, period) DO UPDATE
        SET votes_left = b.votes_left - 1, points_left = b.points_left - :spent
    RETURNING b.votes_left, b.points_left
), tally AS (
    INSERT INTO idea_tallies AS t (round_id, idea_id, votes, points)
    SELECT :round_id, :idea_id, 1, :weight FROM spend WHERE :counted
    ON CONFLICT (round_id, idea_id) DO UPDATE
        SET votes = t.votes + 1, points = t.points + :weight
    RETURNING t.votes, t.points
)
SELECT (SELECT title FROM idea), (SELECT count(*) FROM vote),
       (SELECT votes_left FROM spend), (SELECT points_left FROM spend),
       (SELECT votes FROM tally), (SELECT points FROM tally)
"""


# The vote row, only for an approved entrant of the round and unless a live vote exists:
# the entrant check and the insert in one statement, which returns the title the answer
# shows. No row back: not an entrant, or already voted (the caller asks which; rare).
INSERT_ENTRANT_VOTE = """
INSERT INTO votes (round_id, voter_id, idea_id, period, weight, status, cast_at,
                   ip_hash, ip_prefix_hash, device_id, user_agent, risk_score, risk_signals,
                   status_reason)
SELECT :round_id, :voter_id, :idea_id, :period, :weight, :status, :cast_at,
       :ip_hash, :ip_prefix_hash, :device_id, :user_agent, :risk_score, :risk_signals,
       :status_reason
FROM ideas
WHERE ideas.id = :idea_id AND ideas.campaign_id = :campaign_id
  AND ideas.status = 'approved' AND ideas.hidden_at IS NULL
  AND (:first_round OR EXISTS (
      SELECT 1 FROM round_entrants
      WHERE round_entrants.round_id = :round_id AND round_entrants.idea_id = :idea_id))
ON CONFLICT (round_id, voter_id, idea_id, period) WHERE withdrawn_at IS NULL DO NOTHING
RETURNING id, (SELECT ideas.title FROM ideas WHERE ideas.id = votes.idea_id)
"""


def _typed(sql: str) -> Any:
    """The text statement with the types of its parameters that are not plain values."""
    statement = text(sql)
    types = {
        "first_round": Boolean(),
        "counted": Boolean(),
        "cast_at": VOTES.c.cast_at.type,
        "risk_signals": VOTES.c.risk_signals.type,
        "risk_score": VOTES.c.risk_score.type,
    }
    return statement.bindparams(
        *(bindparam(name, type_=kind) for name, kind in types.items() if f":{name}" in sql)
    )


def _cast_all_postgresql() -> Any:
    return _typed(CAST_ALL_POSTGRESQL)


@cache
def _statements(dialect: str) -> _Statements:
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    # The idea by its key alone, then tested: see CAST_ALL_POSTGRESQL's `keyed`.
    keyed = (
        core_select(IDEAS.c.title, IDEAS.c.campaign_id, IDEAS.c.status, IDEAS.c.hidden_at)
        .where(IDEAS.c.id == bindparam("idea_id"))
        .cte("keyed")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    entrant = core_select(keyed.c.title).where(
        keyed.c.campaign_id == bindparam("campaign_id"),
        # moderation.service.votable(): approved, and not hidden by reports.
        keyed.c.status == IdeaStatus.APPROVED.value,
        keyed.c.hidden_at.is_(None),
    )
    is_listed = (
        core_select(ENTRANTS.c.idea_id)
        .where(
            ENTRANTS.c.round_id == bindparam("round_id"),
            ENTRANTS.c.idea_id == bindparam("idea_id"),
        )
        .exists()
    )
    spend = (
        insert(BALLOTS)
        .values(
            round_id=_bind(BALLOTS, "round_id"),
            voter_id=_bind(BALLOTS, "voter_id"),
            period=_bind(BALLOTS, "period"),
            votes_left=_bind(BALLOTS, "votes_left"),
            points_left=_bind(BALLOTS, "points_left"),
            created_at=_bind(BALLOTS, "created_at"),
        )
        .on_conflict_do_update(
            index_elements=["round_id", "voter_id", "period"],
            set_={
                "votes_left": BALLOTS.c.votes_left - 1,
                "points_left": BALLOTS.c.points_left - bindparam("spent", type_=Integer()),
            },
            where=(BALLOTS.c.votes_left >= 1)
            & (BALLOTS.c.points_left >= bindparam("spent", type_=Integer())),
        )
        .returning(BALLOTS.c.votes_left, BALLOTS.c.points_left)
    )
    add_tally = (
        insert(TALLIES)
        .values(
            round_id=_bind(TALLIES, "round_id"),
            idea_id=_bind(TALLIES, "idea_id"),
            votes=_bind(TALLIES, "votes"),
            points=_bind(TALLIES, "points"),
        )
        .on_conflict_do_update(
            index_elements=["round_id", "idea_id"],
            set_={
                "votes": TALLIES.c.votes + bindparam("add_votes", type_=Integer()),
                "points": TALLIES.c.points + bindparam("add_points", type_=Integer()),
            },
        )
        .returning(TALLIES.c.votes, TALLIES.c.points)
    )
    voter_period = (
        (BALLOTS.c.round_id == bindparam("round_id"))
        & (BALLOTS.c.voter_id == bindparam("voter_id"))
        & (BALLOTS.c.period == bindparam("period"))
    )
    return _Statements(
        entrant_first=entrant,
        entrant_later=entrant.add_columns(is_listed),
        insert_vote=_typed(INSERT_ENTRANT_VOTE),
        spend=spend,
        add_tally=add_tally,
        # UPDATE reserves the column names for SET values: the keys go as "k_<column>".
        withdraw=update(VOTES)
        .where(
            VOTES.c.round_id == bindparam("k_round_id"),
            VOTES.c.voter_id == bindparam("k_voter_id"),
            VOTES.c.idea_id == bindparam("k_idea_id"),
            VOTES.c.period == bindparam("k_period"),
            VOTES.c.withdrawn_at.is_(None),
        )
        .values(withdrawn_at=bindparam("now", type_=VOTES.c.withdrawn_at.type))
        .returning(VOTES.c.weight, VOTES.c.status),
        give_back=update(BALLOTS)
        .where(
            BALLOTS.c.round_id == bindparam("k_round_id"),
            BALLOTS.c.voter_id == bindparam("k_voter_id"),
            BALLOTS.c.period == bindparam("k_period"),
        )
        .values(
            votes_left=BALLOTS.c.votes_left + 1,
            points_left=BALLOTS.c.points_left + bindparam("given_back", type_=Integer()),
        )
        .returning(BALLOTS.c.votes_left, BALLOTS.c.points_left),
        take_tally=update(TALLIES)
        .where(
            TALLIES.c.round_id == bindparam("k_round_id"),
            TALLIES.c.idea_id == bindparam("k_idea_id"),
        )
        .values(
            votes=TALLIES.c.votes + bindparam("add_votes", type_=Integer()),
            points=TALLIES.c.points + bindparam("add_points", type_=Integer()),
        )
        .returning(TALLIES.c.votes, TALLIES.c.points),
        left=core_select(BALLOTS.c.votes_left, BALLOTS.c.points_left).where(voter_period),
        cast_all=_cast_all_postgresql() if dialect == "postgresql" else None,
    )


def _sql(tx: Transaction) -> _Statements:
    return _statements(tx.dialect.name)


def transaction_of(session: Session | Transaction) -> Transaction:
    """The vote path runs on a request's session, or on a transaction without one (the vote
    endpoint's fast path: `security.access.route`'s `fast`, run by `db.GroupCommit`)."""
    return SessionTransaction(session) if isinstance(session, Session) else session


def _first_round(tx: Transaction, round_: Round, first_round: bool | None) -> bool:
    if first_round is not None:
        return first_round
    assert isinstance(tx, SessionTransaction), "without a session, say whether it is the first"
    return _takes_every_approved_idea(session=tx.session, round_=round_)


def _entrant_title(
    tx: Transaction, round_: Round, idea_id: int, first_round: bool | None
) -> str | None:
    """The idea's title when it takes part in the round, else None; one query when the
    caller knows whether this is the campaign's first voting round."""
    first_round = _first_round(tx, round_, first_round)
    sql = _sql(tx)
    params = {"idea_id": idea_id, "campaign_id": round_.campaign_id, "round_id": round_.id}
    statement = sql.entrant_first if first_round else sql.entrant_later
    row = tx.first(statement, params)
    if row is None or (not first_round and not row[1]):
        return None
    return str(row[0])


def cast_vote(
    *,
    session: Session | Transaction,
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
    """Cast one vote (approval, single, or points with `weight` points). Idempotent.

    One transaction of three statements: insert the vote if the idea takes part in the round
    and unless a live vote exists (ON CONFLICT on the partial unique index: a double click
    stores nothing), which returns the idea's title; spend
    the allowance with an upsert that only updates while enough is left (CHECK >= 0 backs
    it); add to the idea's tally. Any refusal rolls the whole transaction back.
    """
    assert round_.id is not None and voter.id is not None
    tx = transaction_of(session)
    signals = signals or Signals()
    if not (stage.opens_at <= now < stage.closes_at) or round_.certified_at is not None:
        return VoteResult(Outcome.CLOSED)
    problem = eligibility_problem(round_, voter, now, country)
    if problem is not None:
        return VoteResult(Outcome.INELIGIBLE, reason=problem)
    points = round_.method == Method.POINTS
    if not points:
        weight = 1
    votes_allowed, budget = _allowance(round_)
    period = period_of(round_, campaign, now)
    if weight < 1:
        return VoteResult(Outcome.NO_VOTES_LEFT, *_left(tx, round_, voter.id, period))
    spent = weight if points else 0
    status = VoteStatus.HELD if signals.hold else VoteStatus.COUNTED
    vote = {
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
    }
    sql = _sql(tx)
    first_round = _first_round(tx, round_, first_round)
    if sql.cast_all is not None and spent <= budget:
        return _cast_in_one_statement(
            tx,
            sql,
            round_,
            {
                **vote,
                "campaign_id": round_.campaign_id,
                "first_round": first_round,
                "votes_left": votes_allowed - 1,
                "points_left": budget - spent,
                "spent": spent,
                "counted": status == VoteStatus.COUNTED,
            },
        )
    tx.begin_write()
    try:
        params = {**vote, "campaign_id": round_.campaign_id, "first_round": first_round}
        stored = tx.first(sql.insert_vote, params)
        if stored is None:  # not an entrant, or a live vote exists: a retry, a double click
            title = _entrant_title(tx, round_, idea_id, first_round)
            tx.rollback()
            if title is None:
                return VoteResult(Outcome.NOT_ENTRANT)
            left = _left(tx, round_, voter.id, period)
            return VoteResult(Outcome.ALREADY, *left, idea_title=title)
        title = str(stored[1])
        if spent > budget:  # more than a whole ballot: the upsert's first insert would fail
            tx.rollback()
            left = _left(tx, round_, voter.id, period)
            return VoteResult(Outcome.NO_VOTES_LEFT, *left, idea_title=title)
        remaining = tx.first(
            sql.spend,
            {
                "round_id": round_.id,
                "voter_id": voter.id,
                "period": period,
                "votes_left": votes_allowed - 1,
                "points_left": budget - spent,
                "created_at": now,
                "spent": spent,
            },
        )
        if remaining is None:
            tx.rollback()
            left = _left(tx, round_, voter.id, period)
            return VoteResult(Outcome.NO_VOTES_LEFT, *left, idea_title=title)
        tally = None
        if status == VoteStatus.COUNTED:
            tally = _add_to_tally(tx, round_id=round_.id, idea_id=idea_id, votes=1, points=weight)
        tx.commit()
    except IntegrityError:
        # Only a constraint the checks above did not foresee; nothing was stored.
        tx.rollback()
        return VoteResult(Outcome.ALREADY, *_left(tx, round_, voter.id, period))
    outcome = Outcome.HELD if status == VoteStatus.HELD else Outcome.COUNTED
    return VoteResult(outcome, remaining[0], remaining[1], idea_title=title, tally=tally)


def _cast_in_one_statement(
    tx: Transaction, sql: _Statements, round_: Round, params: dict[str, Any]
) -> VoteResult:
    """PostgreSQL: the vote as one statement, sent with its COMMIT; see CAST_ALL_POSTGRESQL."""
    voter_id, period = params["voter_id"], params["period"]
    try:
        row = tx.first_then_commit(sql.cast_all, params)
    except IntegrityError as exc:
        tx.rollback()
        left = _left(tx, round_, voter_id, period)
        if not _overspent(exc):  # only a constraint nothing here foresaw; nothing was stored
            return VoteResult(Outcome.ALREADY, *left)
        title = _entrant_title(tx, round_, params["idea_id"], params["first_round"])
        return VoteResult(Outcome.NO_VOTES_LEFT, *left, idea_title=title)
    assert row is not None  # a SELECT of scalar subqueries: always one row
    title, inserted, votes_left, points_left, tally_votes, tally_points = row
    if title is None:  # nothing was written
        return VoteResult(Outcome.NOT_ENTRANT)
    if not inserted:  # a live vote for this idea exists: a retry or a double click
        left = _left(tx, round_, voter_id, period)
        return VoteResult(Outcome.ALREADY, *left, idea_title=title)
    counted = params["counted"]
    return VoteResult(
        Outcome.COUNTED if counted else Outcome.HELD,
        int(votes_left),
        int(points_left),
        idea_title=title,
        tally=(int(tally_votes), int(tally_points)) if counted else None,
    )


def _overspent(error: IntegrityError) -> bool:
    """The ballot's CHECK refused the spend: not enough votes or points left."""
    return any(name in str(error.orig) for name in ("ballot_votes_left", "ballot_points_left"))


def withdraw_vote(
    *,
    session: Session | Transaction,
    round_: Round,
    campaign: Campaign,
    stage: Stage,
    voter: User,
    idea_id: int,
    now: datetime,
) -> VoteResult:
    """Take back today's (or this round's) vote for an idea; the row stays, marked withdrawn."""
    assert round_.id is not None and voter.id is not None
    tx = transaction_of(session)
    if not (stage.opens_at <= now < stage.closes_at) or round_.certified_at is not None:
        return VoteResult(Outcome.CLOSED)
    period = period_of(round_, campaign, now)
    sql = _sql(tx)
    keys = {"k_round_id": round_.id, "k_voter_id": voter.id, "k_period": period}
    tx.begin_write()
    taken = tx.first(sql.withdraw, {**keys, "k_idea_id": idea_id, "now": now})
    if taken is None:
        tx.rollback()
        return VoteResult(Outcome.NOT_FOUND, *_left(tx, round_, voter.id, period))
    weight, status = taken
    points = weight if round_.method == Method.POINTS else 0
    left = tx.first(sql.give_back, {**keys, "given_back": points})
    assert left is not None  # the ballot paid for the vote
    tally = None
    if status == VoteStatus.COUNTED:
        tally = _add_to_tally(tx, round_id=round_.id, idea_id=idea_id, votes=-1, points=-weight)
    tx.commit()
    return VoteResult(Outcome.WITHDRAWN, left[0], left[1], tally=tally)


def _left(tx: Transaction, round_: Round, voter_id: int, period: int) -> tuple[int, int]:
    """What the voter has left in this period (the whole allowance before any vote)."""
    row = tx.first(_sql(tx).left, {"round_id": round_.id, "voter_id": voter_id, "period": period})
    if row is None:
        return _allowance(round_)
    return int(row[0]), int(row[1])


def _add_to_tally(
    tx: Transaction, *, round_id: int, idea_id: int, votes: int, points: int
) -> tuple[int, int] | None:
    """Add to the idea's counted votes and points; returns them after the change."""
    sql = _sql(tx)
    params = {"round_id": round_id, "idea_id": idea_id, "add_votes": votes, "add_points": points}
    # Taking back: the row exists (the votes were counted into it). Not an upsert: its VALUES
    # row would be checked against CHECK (votes >= 0) even when it conflicts.
    if votes < 0 or points < 0:
        keys = {"k_round_id": round_id, "k_idea_id": idea_id}
        row = tx.first(sql.take_tally, {**params, **keys})
        return (int(row[0]), int(row[1])) if row is not None else None
    row = tx.first(sql.add_tally, {**params, "votes": votes, "points": points})
    assert row is not None  # an upsert returns its row
    return int(row[0]), int(row[1])


def adjust_tally(*, session: Session, round_id: int, idea_id: int, votes: int, points: int) -> None:
    """Add counted votes and points (negative: take them back) to an idea's live tally, in the
    caller's transaction: for changes made outside casting and withdrawing (fraud decisions,
    merged duplicates). The caller keeps live tally == recount by passing exact deltas."""
    if votes or points:
        _add_to_tally(
            SessionTransaction(session),
            round_id=round_id,
            idea_id=idea_id,
            votes=votes,
            points=points,
        )


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
