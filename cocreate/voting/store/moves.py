"""Votes follow a merged duplicate to the idea it joined, and go back when the merge is undone.

Runs in the caller's transaction (moderation's decision, opened with `begin_write`), so the
idea's status change, the votes, the ballots and the tallies commit or roll back together.

On a merge of duplicate D into target T, for every round of the campaign not yet certified:

- a live vote on D moves to T (its row's idea changes; cast time, signals and status stay,
  so the fraud checks still see it as cast);
- unless the same voter already has a live vote on T for that round and period: the voter
  has then backed the same idea twice. Their vote on T stays as they cast it (its points or
  rank are what they chose for T), the vote on D is withdrawn and its allowance (one vote,
  and its points on a points ballot) is given back, so they can spend it on another idea.
  Adding D's points to T instead would let a merge put more on one idea than the voter
  ever chose to give it; refunding loses the voter nothing;
- when D had a place in a later round (a round entrant) and T had none, T takes D's place:
  the votes D earned there now belong to T;
- the tallies of both ideas change by exactly the counted votes moved or withdrawn, so the
  live tally always equals a recount of the vote log.

Certified rounds are never touched: their results and digest are final. The ids of what
moved are returned for the decision's `effects`, and `move_back` puts them back.

Certification takes a FOR UPDATE lock on the round before reading the log; the merge takes
a KEY SHARE lock on the open rounds first, so the two never interleave (PostgreSQL; SQLite
serialises writers anyway).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, and_, bindparam, delete, exists, insert, select, update
from sqlmodel import Session

from cocreate.voting.models import Ballot, Round, RoundEntrant, Vote, VoteStatus
from cocreate.voting.store.votes import adjust

VOTES: Table = Vote.__table__  # type: ignore[attr-defined]
BALLOTS: Table = Ballot.__table__  # type: ignore[attr-defined]
ROUNDS: Table = Round.__table__  # type: ignore[attr-defined]
ENTRANTS: Table = RoundEntrant.__table__  # type: ignore[attr-defined]
CHUNK = 5000  # ids per IN list: below every database's limit on bound parameters

Refund = Callable[[str, int], int]  # (the round's method, a vote's weight) -> its points


def _open_rounds(session: Session, campaign_id: int) -> dict[int, str]:
    """Round id -> method of the campaign's rounds not certified, locked against
    certification until this transaction ends."""
    rows = session.execute(
        select(ROUNDS.c.id, ROUNDS.c.method)
        .where(ROUNDS.c.campaign_id == campaign_id, ROUNDS.c.certified_at.is_(None))
        .with_for_update(read=True, key_share=True)
    ).all()
    return {int(r[0]): str(r[1]) for r in rows}


def _chunks(ids: Sequence[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield list(ids[start : start + CHUNK])


def _counted(rows: Iterable[Any]) -> dict[int, tuple[int, int]]:
    """Round id -> (votes, points) of the counted, live rows among (round, weight, status,
    withdrawn)."""
    sums: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for round_id, weight, status, withdrawn in rows:
        if status == VoteStatus.COUNTED and not withdrawn:
            sums[int(round_id)][0] += 1
            sums[int(round_id)][1] += int(weight)
    return {r: (v, p) for r, (v, p) in sums.items()}


def _shift(
    session: Session, sums: dict[int, tuple[int, int]], *, to: int | None, off: int | None
) -> None:
    """Add each round's counted (votes, points) to idea `to`, take them off idea `off`."""
    for round_id, (votes, points) in sums.items():
        deltas = {}
        if to is not None:
            deltas[to] = (votes, points)
        if off is not None:
            deltas[off] = (-votes, -points)
        adjust(session, round_id=round_id, deltas=deltas)


def move(
    *,
    session: Session,
    campaign_id: int,
    source_id: int,
    target_id: int,
    now: datetime,
    refund: Refund,
) -> dict[str, list[int]]:
    """Move D's live votes to T as the module says; returns what moved, for `move_back`."""
    rounds = _open_rounds(session, campaign_id)
    if not rounds:
        return {}
    round_ids = list(rounds)
    twin = VOTES.alias("twin")
    already_on_target = exists().where(
        twin.c.idea_id == target_id,
        twin.c.round_id == VOTES.c.round_id,
        twin.c.voter_id == VOTES.c.voter_id,
        twin.c.period == VOTES.c.period,
        twin.c.withdrawn_at.is_(None),
    )
    live_on_source = and_(
        VOTES.c.idea_id == source_id,
        VOTES.c.withdrawn_at.is_(None),
        VOTES.c.round_id.in_(round_ids),
    )
    withdrawn = session.execute(
        update(VOTES)
        .where(live_on_source, already_on_target)
        .values(withdrawn_at=now)
        .returning(
            VOTES.c.id,
            VOTES.c.round_id,
            VOTES.c.voter_id,
            VOTES.c.period,
            VOTES.c.weight,
            VOTES.c.status,
        )
    ).all()
    if withdrawn:
        session.execute(
            update(BALLOTS)
            .where(
                BALLOTS.c.round_id == bindparam("k_round"),
                BALLOTS.c.voter_id == bindparam("k_voter"),
                BALLOTS.c.period == bindparam("k_period"),
            )
            .values(
                votes_left=BALLOTS.c.votes_left + 1,
                points_left=BALLOTS.c.points_left + bindparam("refund"),
            ),
            [
                {
                    "k_round": r.round_id,
                    "k_voter": r.voter_id,
                    "k_period": r.period,
                    "refund": refund(rounds[r.round_id], r.weight),
                }
                for r in withdrawn
            ],
        )
    moved = session.execute(
        update(VOTES)
        .where(live_on_source)
        .values(idea_id=target_id)
        .returning(VOTES.c.id, VOTES.c.round_id, VOTES.c.weight, VOTES.c.status)
    ).all()
    _shift(
        session,
        _counted((r.round_id, r.weight, r.status, False) for r in moved),
        to=target_id,
        off=source_id,
    )
    _shift(
        session,
        _counted((r.round_id, r.weight, r.status, False) for r in withdrawn),
        to=None,
        off=source_id,
    )
    target_listed = select(ENTRANTS.c.round_id).where(ENTRANTS.c.idea_id == target_id)
    places = [
        int(r)
        for r in session.execute(
            select(ENTRANTS.c.round_id).where(
                ENTRANTS.c.idea_id == source_id,
                ENTRANTS.c.round_id.in_(round_ids),
                ENTRANTS.c.round_id.not_in(target_listed),
            )
        ).scalars()
    ]
    if places:
        session.execute(
            insert(ENTRANTS),
            [{"round_id": r, "idea_id": target_id, "advanced_at": now} for r in places],
        )
    return {
        "moved": sorted(int(r.id) for r in moved),
        "withdrawn": sorted(int(r.id) for r in withdrawn),
        "entrant_rounds": sorted(places),
    }


def move_back(
    *,
    session: Session,
    campaign_id: int,
    source_id: int,
    target_id: int,
    moved: dict[str, list[int]],
    refund: Refund,
) -> None:
    """Undo `move` with what it returned, in rounds still not certified.

    Moved votes go back to D (with their current status: a vote the voter withdrew from T
    meanwhile goes back withdrawn). A refunded vote on D comes back only while the voter
    still has that allowance unspent; if they spent it on another idea, that newer choice
    stands and the D vote stays withdrawn.
    """
    rounds = _open_rounds(session, campaign_id)
    if not rounds or not moved:
        return
    round_ids = list(rounds)
    back: list[Any] = []
    for ids in _chunks(moved.get("moved", [])):
        back += session.execute(
            update(VOTES)
            .where(
                VOTES.c.id.in_(ids),
                VOTES.c.idea_id == target_id,
                VOTES.c.round_id.in_(round_ids),
            )
            .values(idea_id=source_id)
            .returning(VOTES.c.round_id, VOTES.c.weight, VOTES.c.status, VOTES.c.withdrawn_at)
        ).all()
    _shift(
        session,
        _counted((r.round_id, r.weight, r.status, r.withdrawn_at is not None) for r in back),
        to=source_id,
        off=target_id,
    )
    revived: list[tuple[int, int, str]] = []
    for ids in _chunks(moved.get("withdrawn", [])):
        rows = session.execute(
            select(
                VOTES.c.id,
                VOTES.c.round_id,
                VOTES.c.voter_id,
                VOTES.c.period,
                VOTES.c.weight,
                VOTES.c.status,
            ).where(
                VOTES.c.id.in_(ids),
                VOTES.c.idea_id == source_id,
                VOTES.c.withdrawn_at.is_not(None),
                VOTES.c.round_id.in_(round_ids),
            )
        ).all()
        for row in rows:
            cost = refund(rounds[row.round_id], row.weight)
            # Conditional, with the CHECK (>= 0) behind it: never overdraw a ballot.
            charged = session.execute(
                update(BALLOTS)
                .where(
                    BALLOTS.c.round_id == row.round_id,
                    BALLOTS.c.voter_id == row.voter_id,
                    BALLOTS.c.period == row.period,
                    BALLOTS.c.votes_left >= 1,
                    BALLOTS.c.points_left >= cost,
                )
                .values(
                    votes_left=BALLOTS.c.votes_left - 1, points_left=BALLOTS.c.points_left - cost
                )
                .returning(BALLOTS.c.id)
            ).first()
            if charged is None:
                continue
            session.execute(update(VOTES).where(VOTES.c.id == row.id).values(withdrawn_at=None))
            revived.append((int(row.round_id), int(row.weight), str(row.status)))
    _shift(session, _counted((r, w, s, False) for r, w, s in revived), to=source_id, off=None)
    places = [r for r in moved.get("entrant_rounds", []) if r in rounds]
    if places:
        session.execute(
            delete(ENTRANTS).where(ENTRANTS.c.idea_id == target_id, ENTRANTS.c.round_id.in_(places))
        )
