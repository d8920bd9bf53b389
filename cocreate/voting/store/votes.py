"""Casting and withdrawing one vote, what a ballot has left, and the tally's changes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from cocreate.db import begin_write
from cocreate.group_commit import driver_sql
from cocreate.voting.models import VoteStatus
from cocreate.voting.store.statements import CastRow, Statements, statements


def _sql(session: Session) -> Statements:
    return statements(session.get_bind().dialect.name)


def _first(session: Session, statement: Any, values: Mapping[str, Any]) -> Any:
    return session.connection().execute(statement, values).first()


def cast(session: Session, values: Mapping[str, Any]) -> CastRow:
    """Insert the vote if its idea may take it and no live vote exists, spend the ballot's
    allowance, add a counted vote to the idea's tally; commits. `values`: the vote's columns
    (`statements.VOTE_COLUMNS`), `campaign_id`, `first_round`, the ballot's `votes_left`
    and `points_left` after a first vote, `spent` (points) and `counted`. On PostgreSQL one
    statement; on SQLite three in a write transaction, in a savepoint of their own. All or
    nothing: nothing is kept either when the answer is not `inserted`."""
    sql = _sql(session)
    if sql.cast_all is None:
        return _cast_in_steps(session, sql, values)
    try:
        found = session.connection().execute(sql.cast_all, values).one()
    except IntegrityError as error:
        session.rollback()
        return _refused(error)
    title, inserted, votes_left, points_left, votes, points = found
    session.commit()
    if not inserted:
        return CastRow(title, False)
    counted = None if votes is None else (int(votes), int(points))
    return CastRow(title, True, (int(votes_left), int(points_left)), counted)


class _Undone(Exception):
    """The steps stopped: what they wrote is undone, and `row` is the answer."""

    def __init__(self, row: CastRow) -> None:
        super().__init__()
        self.row = row


def _cast_in_steps(session: Session, sql: Statements, values: Mapping[str, Any]) -> CastRow:
    """SQLite's cast. Its steps are undone with a savepoint on the connection, not with the
    session's rollback: in a group commit that rollback would end the whole batch's shared
    transaction (`group_commit`)."""
    begin_write(session)
    savepoint = driver_sql(session.connection())
    savepoint("SAVEPOINT steps")
    try:
        row = _steps(session, sql, values)
    except (IntegrityError, _Undone) as stopped:
        savepoint("ROLLBACK TO steps")
        savepoint("RELEASE steps")
        session.commit()
        return stopped.row if isinstance(stopped, _Undone) else _refused(stopped)
    savepoint("RELEASE steps")
    session.commit()
    return row


def _steps(session: Session, sql: Statements, values: Mapping[str, Any]) -> CastRow:
    stored = _first(session, sql.insert_vote, values)
    if stored is None:  # not votable, or a live vote exists: a retry, a double click
        raise _Undone(CastRow(entrant_title(session, values), False))
    title = str(stored[1])
    remaining = _first(session, sql.spend, values)
    if remaining is None:  # the ballot cannot pay
        raise _Undone(CastRow(title, False, overspent=True))
    tally = None
    if values["counted"]:
        tally = add_to_tally(
            session,
            round_id=values["round_id"],
            idea_id=values["idea_id"],
            votes=1,
            points=values["weight"],
        )
    return CastRow(title, True, (int(remaining[0]), int(remaining[1])), tally)


def _refused(error: IntegrityError) -> CastRow:
    if _overspent(error):  # the ballot's CHECK refused the spend
        return CastRow(None, False, overspent=True)
    return CastRow(None, False, conflict=True)


def _overspent(error: IntegrityError) -> bool:
    return any(name in str(error.orig) for name in ("ballot_votes_left", "ballot_points_left"))


def entrant_title(session: Session, values: Mapping[str, Any]) -> str | None:
    """The idea's title when it may take a vote in the round (`idea_id`, `campaign_id`,
    `round_id`, `first_round`), else None."""
    keys = ("idea_id", "campaign_id", "round_id", "first_round")
    row = _first(session, _sql(session).entrant_title, {k: values[k] for k in keys})
    return None if row is None else str(row[0])


def withdraw(
    session: Session,
    *,
    round_id: int,
    voter_id: int,
    idea_id: int,
    period: int,
    now: datetime,
    points_per_weight: int,
) -> tuple[tuple[int, int], tuple[int, int] | None] | None:
    """Mark the voter's live vote for the idea withdrawn (the row stays), give its ballot
    back the vote and `points_per_weight` x its weight in points, take a counted vote off the
    tally; commits. Returns (what the ballot has left, the idea's tally when a counted vote
    left it), or None when there was no live vote (nothing changed). On PostgreSQL one
    statement; on SQLite three in a write transaction."""
    sql = _sql(session)
    keys = {"k_round_id": round_id, "k_voter_id": voter_id, "k_period": period}
    values = {**keys, "k_idea_id": idea_id, "now": now, "points_per_weight": points_per_weight}
    if sql.withdraw_all is not None:
        found = session.connection().execute(sql.withdraw_all, values).one()
        weight, votes_left, points_left, votes, points = found
        session.commit()
        if weight is None:
            return None
        counted = None if votes is None else (int(votes), int(points))
        return (int(votes_left), int(points_left)), counted
    begin_write(session)
    taken = _first(session, sql.withdraw, values)
    if taken is None:  # nothing written: ended as it is (a rollback would end a whole batch)
        session.commit()
        return None
    weight, status = int(taken[0]), taken[1]
    remaining = _first(session, sql.give_back, {**keys, "given_back": weight * points_per_weight})
    assert remaining is not None  # the ballot paid for the vote
    tally = None
    if status == VoteStatus.COUNTED:
        tally = add_to_tally(session, round_id=round_id, idea_id=idea_id, votes=-1, points=-weight)
    session.commit()
    return (int(remaining[0]), int(remaining[1])), tally


def left(session: Session, *, round_id: int, voter_id: int, period: int) -> tuple[int, int] | None:
    """What the voter's ballot of this period has left; None before its first vote."""
    row = _first(
        session,
        _sql(session).left,
        {"round_id": round_id, "voter_id": voter_id, "period": period},
    )
    return None if row is None else (int(row[0]), int(row[1]))


def add_to_tally(
    session: Session, *, round_id: int, idea_id: int, votes: int, points: int
) -> tuple[int, int] | None:
    """Add to the idea's counted votes and points, in the caller's transaction; returns them
    after the change."""
    sql = _sql(session)
    params = {"round_id": round_id, "idea_id": idea_id, "add_votes": votes, "add_points": points}
    # Taking back: the row exists (the votes were counted into it). Not an upsert: its VALUES
    # row would be checked against CHECK (votes >= 0) even when it conflicts.
    if votes < 0 or points < 0:
        keys = {"k_round_id": round_id, "k_idea_id": idea_id}
        row = _first(session, sql.take_tally, {**params, **keys})
        return (int(row[0]), int(row[1])) if row is not None else None
    row = _first(session, sql.add_tally, params)
    assert row is not None  # an upsert returns its row
    return int(row[0]), int(row[1])


def adjust(session: Session, *, round_id: int, deltas: Mapping[int, tuple[int, int]]) -> None:
    """Add counted (votes, points) per idea (negative: take them back) to the live tally, in
    the caller's transaction; ideas in one order, so two callers never deadlock on two rows.
    The caller keeps live tally == recount by passing exact deltas."""
    for idea_id, (votes, points) in sorted(deltas.items()):
        if votes or points:
            add_to_tally(session, round_id=round_id, idea_id=idea_id, votes=votes, points=points)
