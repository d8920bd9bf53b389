"""Casting and withdrawing one vote, what a ballot has left, and the tally's changes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from cocreate.db import SessionTransaction, Transaction
from cocreate.voting.models import VoteStatus
from cocreate.voting.store.statements import CastRow, statements


def cast(tx: Transaction, values: Mapping[str, Any]) -> CastRow:
    """Insert the vote if its idea may take it and no live vote exists, spend the ballot's
    allowance, add a counted vote to the idea's tally. `values`: the vote's columns
    (`statements.VOTE_COLUMNS`), `campaign_id`, `first_round`, the ballot's `votes_left`
    and `points_left` after a first vote, `spent` (points) and `counted`. On PostgreSQL one
    statement sent with its COMMIT; on SQLite three in a write transaction, committed here.
    Nothing is kept unless all of it is; nothing is kept either when the answer is not
    `inserted`."""
    sql = statements(tx.dialect.name)
    try:
        if sql.cast_all is not None:
            row = tx.first_then_commit(sql.cast_all, values)
            assert row is not None  # a SELECT of scalar subqueries: always one row
            title, inserted, votes_left, points_left, votes, points = row
            if not inserted:
                return CastRow(title, False)
            counted = None if votes is None else (int(votes), int(points))
            return CastRow(title, True, (int(votes_left), int(points_left)), counted)
        return _cast_in_steps(tx, sql, values)
    except IntegrityError as error:
        tx.rollback()
        if _overspent(error):  # the ballot's CHECK refused the spend
            return CastRow(None, False, overspent=True)
        return CastRow(None, False, conflict=True)


def _cast_in_steps(tx: Transaction, sql: Any, values: Mapping[str, Any]) -> CastRow:
    tx.begin_write()
    stored = tx.first(sql.insert_vote, values)
    if stored is None:  # not votable, or a live vote exists: a retry, a double click
        title = entrant_title(tx, values)
        tx.rollback()
        return CastRow(title, False)
    title = str(stored[1])
    remaining = tx.first(sql.spend, values)
    if remaining is None:  # the ballot cannot pay
        tx.rollback()
        return CastRow(title, False, overspent=True)
    tally = None
    if values["counted"]:
        tally = add_to_tally(
            tx,
            round_id=values["round_id"],
            idea_id=values["idea_id"],
            votes=1,
            points=values["weight"],
        )
    tx.commit()
    return CastRow(title, True, (int(remaining[0]), int(remaining[1])), tally)


def _overspent(error: IntegrityError) -> bool:
    return any(name in str(error.orig) for name in ("ballot_votes_left", "ballot_points_left"))


def entrant_title(tx: Transaction, values: Mapping[str, Any]) -> str | None:
    """The idea's title when it may take a vote in the round (`idea_id`, `campaign_id`,
    `round_id`, `first_round`), else None."""
    keys = ("idea_id", "campaign_id", "round_id", "first_round")
    row = tx.first(statements(tx.dialect.name).entrant_title, {k: values[k] for k in keys})
    return None if row is None else str(row[0])


def withdraw(
    tx: Transaction,
    *,
    round_id: int,
    voter_id: int,
    idea_id: int,
    period: int,
    now: datetime,
    refund: Callable[[int], int],
) -> tuple[tuple[int, int], tuple[int, int] | None] | None:
    """Mark the voter's live vote for the idea withdrawn (the row stays), give its ballot
    back the vote and `refund(weight)` points, take a counted vote off the tally; commits.
    Returns (what the ballot has left, the idea's tally when a counted vote left it), or
    None when there was no live vote (nothing changed)."""
    sql = statements(tx.dialect.name)
    keys = {"k_round_id": round_id, "k_voter_id": voter_id, "k_period": period}
    tx.begin_write()
    taken = tx.first(sql.withdraw, {**keys, "k_idea_id": idea_id, "now": now})
    if taken is None:
        tx.rollback()
        return None
    weight, status = int(taken[0]), taken[1]
    remaining = tx.first(sql.give_back, {**keys, "given_back": refund(weight)})
    assert remaining is not None  # the ballot paid for the vote
    tally = None
    if status == VoteStatus.COUNTED:
        tally = add_to_tally(tx, round_id=round_id, idea_id=idea_id, votes=-1, points=-weight)
    tx.commit()
    return (int(remaining[0]), int(remaining[1])), tally


def left(tx: Transaction, *, round_id: int, voter_id: int, period: int) -> tuple[int, int] | None:
    """What the voter's ballot of this period has left; None before its first vote."""
    row = tx.first(
        statements(tx.dialect.name).left,
        {"round_id": round_id, "voter_id": voter_id, "period": period},
    )
    return None if row is None else (int(row[0]), int(row[1]))


def add_to_tally(
    tx: Transaction, *, round_id: int, idea_id: int, votes: int, points: int
) -> tuple[int, int] | None:
    """Add to the idea's counted votes and points; returns them after the change."""
    sql = statements(tx.dialect.name)
    params = {"round_id": round_id, "idea_id": idea_id, "add_votes": votes, "add_points": points}
    # Taking back: the row exists (the votes were counted into it). Not an upsert: its VALUES
    # row would be checked against CHECK (votes >= 0) even when it conflicts.
    if votes < 0 or points < 0:
        keys = {"k_round_id": round_id, "k_idea_id": idea_id}
        row = tx.first(sql.take_tally, {**params, **keys})
        return (int(row[0]), int(row[1])) if row is not None else None
    row = tx.first(sql.add_tally, params)
    assert row is not None  # an upsert returns its row
    return int(row[0]), int(row[1])


def adjust(session: Session, *, round_id: int, deltas: Mapping[int, tuple[int, int]]) -> None:
    """Add counted (votes, points) per idea (negative: take them back) to the live tally, in
    the caller's transaction; ideas in one order, so two callers never deadlock on two rows.
    The caller keeps live tally == recount by passing exact deltas."""
    tx = SessionTransaction(session)
    for idea_id, (votes, points) in sorted(deltas.items()):
        if votes or points:
            add_to_tally(tx, round_id=round_id, idea_id=idea_id, votes=votes, points=points)
