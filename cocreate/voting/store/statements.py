"""The vote path's statements, in SQLAlchemy Core, built once per kind of database.

Building a statement and its cache key costs more than running it on SQLite; the vote is the
hottest path of a campaign, so its statements are built once (`statements`) and reused, with
bound parameters. The idea's test is `entrants.votable`, the one rule.

PostgreSQL casts a vote in one statement of data-modifying CTEs (`cast_all`; a withdrawal
likewise, `withdraw_all`), each step
feeding the next: the idea, found by its key alone, if it may take the vote; the vote, unless
a live vote exists; the ballot's spend; the tally. A step that finds nothing to do yields no
row, so the steps after it do nothing either, and the caller reads which step stopped. A
ballot that cannot pay breaks its CHECK (votes_left, points_left >= 0): the statement fails
whole, the vote with it. One statement also commits alone: the vote routes run on
PostgreSQL in autocommit (`group_commit`). SQLite has no data-modifying CTE: three
statements in one transaction (`insert_vote`, `spend`, `add_tally`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Boolean, Integer, bindparam, func, literal_column, update
from sqlalchemy import select as core_select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from cocreate.ideas.models import Idea
from cocreate.voting.entrants import votable
from cocreate.voting.models import Ballot, IdeaTally, RoundEntrant, Vote, VoteStatus

VOTES = Vote.__table__  # type: ignore[attr-defined]
BALLOTS = Ballot.__table__  # type: ignore[attr-defined]
TALLIES = IdeaTally.__table__  # type: ignore[attr-defined]
IDEAS = Idea.__table__  # type: ignore[attr-defined]
ENTRANTS = RoundEntrant.__table__  # type: ignore[attr-defined]

# The columns a cast vote is inserted with, each bound under its own name.
VOTE_COLUMNS = (
    "round_id",
    "voter_id",
    "idea_id",
    "period",
    "weight",
    "status",
    "cast_at",
    "ip_hash",
    "ip_prefix_hash",
    "device_id",
    "user_agent",
    "risk_score",
    "risk_signals",
    "status_reason",
)
BALLOT_KEY = ("round_id", "voter_id", "period")
LIVE_VOTE_KEY = ("round_id", "voter_id", "idea_id", "period")


@dataclass(frozen=True)
class CastRow:
    """What casting found. `title`: the idea's, None when it may not take the vote;
    `inserted`: the vote is stored (else a live vote for it existed, or nothing was kept);
    `overspent`: the ballot could not pay; `left`: the ballot after the spend; `tally`: the
    idea's (votes, points) after a counted vote."""

    title: str | None
    inserted: bool
    left: tuple[int, int] | None = None
    tally: tuple[int, int] | None = None
    overspent: bool = False
    conflict: bool = False  # a constraint nothing here foresaw: nothing was stored


@dataclass(frozen=True)
class Statements:
    entrant_title: Any  # the idea's title when it may take a vote in the round
    insert_vote: Any  # SQLite: the vote if votable and not already live; returns id, title
    spend: Any  # SQLite: the ballot's upsert, only while enough is left; returns what is left
    spend_exactly: Any  # a ballot set to what is left (a ranked ballot)
    add_tally: Any  # upsert; returns the idea's votes and points
    take_tally: Any  # update (the row exists); returns the idea's votes and points
    withdraw: Any  # the live vote marked withdrawn; returns its weight and status
    give_back: Any  # the ballot's update; returns what is left
    left: Any  # what is left on a ballot
    cast_all: Any  # PostgreSQL: the whole vote in one statement (None on SQLite)
    withdraw_all: Any  # PostgreSQL: the whole withdrawal in one statement (None on SQLite)


def _bound(table: Any, name: str) -> Any:
    return bindparam(name, type_=table.c[name].type)


def _votable(ideas: Any) -> Any:
    return votable(
        ideas,
        idea_id=bindparam("idea_id", type_=Integer()),
        campaign_id=bindparam("campaign_id", type_=Integer()),
        round_id=bindparam("round_id", type_=Integer()),
        first_round=bindparam("first_round", type_=Boolean()),
    )


def _keyed() -> Any:
    """The idea by its key alone, then tested (MATERIALIZED, so that the planner cannot fold
    the tests into the lookup): in tables never analysed (a campaign just loaded, before
    autovacuum ran) PostgreSQL priced the (status, submitted_at, id) index as low as the key
    and read every approved idea's entry on each vote."""
    return (
        core_select(IDEAS.c.title, IDEAS.c.campaign_id, IDEAS.c.status, IDEAS.c.hidden_at)
        .where(IDEAS.c.id == bindparam("idea_id", type_=Integer()))
        .cte("keyed")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )


def _vote_values() -> Any:
    return core_select(*(_bound(VOTES, name) for name in VOTE_COLUMNS))


def _ballot_values() -> Any:
    return core_select(
        *(_bound(BALLOTS, name) for name in (*BALLOT_KEY, "votes_left", "points_left")),
        bindparam("cast_at", type_=VOTES.c.cast_at.type),
    )


_BALLOT_COLUMNS = [*BALLOT_KEY, "votes_left", "points_left", "created_at"]


def _spent() -> Any:
    return bindparam("spent", type_=Integer())


def _cast_all() -> Any:
    """PostgreSQL: the vote in one statement (see the module's docstring)."""
    keyed = _keyed()
    idea = core_select(keyed.c.title).where(_votable(keyed)).cte("idea")
    vote = (
        pg_insert(VOTES)
        .from_select(list(VOTE_COLUMNS), _vote_values().select_from(idea))
        .on_conflict_do_nothing(
            index_elements=list(LIVE_VOTE_KEY), index_where=VOTES.c.withdrawn_at.is_(None)
        )
        .returning(VOTES.c.id)
        .cte("vote")
    )
    spend = (
        pg_insert(BALLOTS)
        .from_select(_BALLOT_COLUMNS, _ballot_values().select_from(vote))
        .on_conflict_do_update(
            index_elements=list(BALLOT_KEY),
            set_={
                "votes_left": BALLOTS.c.votes_left - 1,
                "points_left": BALLOTS.c.points_left - _spent(),
            },
        )
        .returning(BALLOTS.c.votes_left, BALLOTS.c.points_left)
        .cte("spend")
    )
    weight = bindparam("weight", type_=Integer())
    tally = (
        pg_insert(TALLIES)
        .from_select(
            ["round_id", "idea_id", "votes", "points"],
            core_select(
                _bound(TALLIES, "round_id"), _bound(TALLIES, "idea_id"), literal_column("1"), weight
            )
            .select_from(spend)
            .where(bindparam("counted", type_=Boolean())),
        )
        .on_conflict_do_update(
            index_elements=["round_id", "idea_id"],
            set_={"votes": TALLIES.c.votes + 1, "points": TALLIES.c.points + weight},
        )
        .returning(TALLIES.c.votes, TALLIES.c.points)
        .cte("tally")
    )
    return core_select(
        core_select(idea.c.title).scalar_subquery(),
        core_select(func.count()).select_from(vote).scalar_subquery(),
        core_select(spend.c.votes_left).scalar_subquery(),
        core_select(spend.c.points_left).scalar_subquery(),
        core_select(tally.c.votes).scalar_subquery(),
        core_select(tally.c.points).scalar_subquery(),
    )


def _withdraw_all() -> Any:
    """PostgreSQL: a withdrawal in one statement, as `_cast_all` casts: the live vote marked
    withdrawn, its ballot given back the vote and `points_per_weight` x its weight in points,
    a counted vote taken off its idea's tally. UPDATE reserves the column names for SET
    values: the keys go as "k_<column>"."""
    taken = (
        update(VOTES)
        .where(
            VOTES.c.round_id == bindparam("k_round_id"),
            VOTES.c.voter_id == bindparam("k_voter_id"),
            VOTES.c.idea_id == bindparam("k_idea_id"),
            VOTES.c.period == bindparam("k_period"),
            VOTES.c.withdrawn_at.is_(None),
        )
        .values(withdrawn_at=bindparam("now", type_=VOTES.c.withdrawn_at.type))
        .returning(
            VOTES.c.round_id,
            VOTES.c.voter_id,
            VOTES.c.idea_id,
            VOTES.c.period,
            VOTES.c.weight,
            VOTES.c.status,
        )
        .cte("taken")
    )
    back = (
        update(BALLOTS)
        .where(
            BALLOTS.c.round_id == taken.c.round_id,
            BALLOTS.c.voter_id == taken.c.voter_id,
            BALLOTS.c.period == taken.c.period,
        )
        .values(
            votes_left=BALLOTS.c.votes_left + 1,
            points_left=BALLOTS.c.points_left
            + taken.c.weight * bindparam("points_per_weight", type_=Integer()),
        )
        .returning(BALLOTS.c.votes_left, BALLOTS.c.points_left)
        .cte("back")
    )
    tally = (
        update(TALLIES)
        .where(
            TALLIES.c.round_id == taken.c.round_id,
            TALLIES.c.idea_id == taken.c.idea_id,
            taken.c.status == VoteStatus.COUNTED.value,
        )
        .values(votes=TALLIES.c.votes - 1, points=TALLIES.c.points - taken.c.weight)
        .returning(TALLIES.c.votes, TALLIES.c.points)
        .cte("tally")
    )
    return core_select(
        core_select(taken.c.weight).scalar_subquery(),
        core_select(back.c.votes_left).scalar_subquery(),
        core_select(back.c.points_left).scalar_subquery(),
        core_select(tally.c.votes).scalar_subquery(),
        core_select(tally.c.points).scalar_subquery(),
    )


@cache
def statements(dialect: str) -> Statements:
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    keyed = _keyed()
    # RETURNING names its columns unqualified, which a Core subquery cannot correlate with.
    title: Any = literal_column("(SELECT ideas.title FROM ideas WHERE ideas.id = votes.idea_id)")
    insert_vote = (
        insert(VOTES)
        .from_select(
            list(VOTE_COLUMNS),
            _vote_values()
            .select_from(IDEAS)
            .where(IDEAS.c.id == bindparam("idea_id", type_=Integer()), _votable(IDEAS)),
        )
        .on_conflict_do_nothing(
            index_elements=list(LIVE_VOTE_KEY), index_where=VOTES.c.withdrawn_at.is_(None)
        )
        .returning(VOTES.c.id, title)
    )
    ballot = insert(BALLOTS).values(
        **{name: _bound(BALLOTS, name) for name in (*BALLOT_KEY, "votes_left", "points_left")},
        created_at=bindparam("cast_at", type_=VOTES.c.cast_at.type),
    )
    spend = ballot.on_conflict_do_update(
        index_elements=list(BALLOT_KEY),
        set_={
            "votes_left": BALLOTS.c.votes_left - 1,
            "points_left": BALLOTS.c.points_left - _spent(),
        },
        where=(BALLOTS.c.votes_left >= 1) & (BALLOTS.c.points_left >= _spent()),
    ).returning(BALLOTS.c.votes_left, BALLOTS.c.points_left)
    spend_exactly = ballot.on_conflict_do_update(
        index_elements=list(BALLOT_KEY),
        set_={"votes_left": ballot.excluded.votes_left, "points_left": ballot.excluded.points_left},
    )
    add_tally = (
        insert(TALLIES)
        .values(
            round_id=_bound(TALLIES, "round_id"),
            idea_id=_bound(TALLIES, "idea_id"),
            votes=bindparam("add_votes", type_=Integer()),
            points=bindparam("add_points", type_=Integer()),
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
    ballot_of = (
        (BALLOTS.c.round_id == bindparam("k_round_id"))
        & (BALLOTS.c.voter_id == bindparam("k_voter_id"))
        & (BALLOTS.c.period == bindparam("k_period"))
    )
    return Statements(
        entrant_title=core_select(keyed.c.title).where(_votable(keyed)),
        insert_vote=insert_vote,
        spend=spend,
        spend_exactly=spend_exactly,
        add_tally=add_tally,
        # UPDATE reserves the column names for SET values: the keys go as "k_<column>".
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
        .where(ballot_of)
        .values(
            votes_left=BALLOTS.c.votes_left + 1,
            points_left=BALLOTS.c.points_left + bindparam("given_back", type_=Integer()),
        )
        .returning(BALLOTS.c.votes_left, BALLOTS.c.points_left),
        left=core_select(BALLOTS.c.votes_left, BALLOTS.c.points_left).where(
            BALLOTS.c.round_id == bindparam("round_id"),
            BALLOTS.c.voter_id == bindparam("voter_id"),
            BALLOTS.c.period == bindparam("period"),
        ),
        cast_all=_cast_all() if dialect == "postgresql" else None,
        withdraw_all=_withdraw_all() if dialect == "postgresql" else None,
    )
