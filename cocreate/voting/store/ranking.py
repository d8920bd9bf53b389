"""A ranked ballot: the voter's whole order of preference, replaced at once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy import select as core_select
from sqlmodel import Session

from cocreate.voting.models import VoteStatus
from cocreate.voting.store.statements import VOTES, statements
from cocreate.voting.store.votes import adjust


def replace_ranking(
    session: Session,
    *,
    round_id: int,
    voter_id: int,
    period: int,
    idea_ids: Sequence[int],
    votes_allowed: int,
    vote: Mapping[str, Any],
) -> bool:
    """Replace the voter's ranked ballot, in the caller's write transaction (not committed):
    the live votes withdrawn (kept as history), `idea_ids` inserted in order with weight =
    rank (1 = first) and the other columns from `vote` (`status`, `cast_at`, the signals),
    the ballot left with `votes_allowed` less the ideas ranked. False, having changed
    nothing, when the same ranking is already live."""
    mine = (
        (VOTES.c.round_id == round_id)
        & (VOTES.c.voter_id == voter_id)
        & (VOTES.c.period == period)
        & VOTES.c.withdrawn_at.is_(None)
    )
    old = session.execute(
        core_select(VOTES.c.id, VOTES.c.idea_id, VOTES.c.weight, VOTES.c.status)
        .where(mine)
        .order_by(VOTES.c.weight)
    ).all()
    if [int(row.idea_id) for row in old] == list(idea_ids):
        return False
    deltas: dict[int, tuple[int, int]] = {}

    def count(idea_id: int, votes: int, points: int) -> None:
        before = deltas.get(idea_id, (0, 0))
        deltas[idea_id] = (before[0] + votes, before[1] + points)

    if old:
        session.execute(
            update(VOTES)
            .where(VOTES.c.id.in_([row.id for row in old]), VOTES.c.withdrawn_at.is_(None))
            .values(withdrawn_at=vote["cast_at"])
        )
        for row in old:
            if row.status == VoteStatus.COUNTED:
                count(int(row.idea_id), -1, -int(row.weight))
    if idea_ids:
        fixed = {**vote, "round_id": round_id, "voter_id": voter_id, "period": period}
        session.execute(
            insert(VOTES),
            [
                {**fixed, "idea_id": idea_id, "weight": rank}
                for rank, idea_id in enumerate(idea_ids, start=1)
            ],
        )
        if vote["status"] == VoteStatus.COUNTED:
            for rank, idea_id in enumerate(idea_ids, start=1):
                count(idea_id, 1, rank)
    adjust(session, round_id=round_id, deltas=deltas)
    session.connection().execute(
        statements(session.get_bind().dialect.name).spend_exactly,
        {
            "round_id": round_id,
            "voter_id": voter_id,
            "period": period,
            "votes_left": votes_allowed - len(idea_ids),
            "points_left": 0,
            "cast_at": vote["cast_at"],
        },
    )
    return True
