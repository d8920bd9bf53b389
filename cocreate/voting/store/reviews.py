"""Reviews change a vote's status: void, restore, release. Never its other columns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlmodel import Session

from cocreate.voting.models import VoteStatus
from cocreate.voting.store.statements import VOTES
from cocreate.voting.store.votes import adjust

ID_BATCH = 5_000  # ids per IN (...) list: below every database's limit on bound parameters


@dataclass(frozen=True)
class Changed:
    """A vote whose status a review changed."""

    vote_id: int
    voter_id: int
    idea_id: int
    weight: int
    withdrawn: bool


def change_status(
    session: Session,
    *,
    round_id: int,
    from_status: VoteStatus,
    to_status: VoteStatus,
    reason: str | None,
    vote_ids: Any = None,
    voter_ids: Sequence[int] | None = None,
    live_only: bool = True,
) -> list[Changed]:
    """Move the round's votes in `from_status` to `to_status`, `reason` kept on each, in the
    caller's transaction (not committed). The votes: those `vote_ids` (a SELECT of vote ids)
    lists, and those of `voter_ids`; `live_only`: not withdrawn. One conditional UPDATE with
    RETURNING, so of two reviewers deciding the same votes at once, or of a review and a voter
    withdrawing, exactly one change happens to each vote (row locks on PostgreSQL; SQLite has
    one writer). The tally takes a vote that starts counting (unless withdrawn) and loses one
    that stops."""
    where = (VOTES.c.round_id == round_id) & (VOTES.c.status == from_status.value)
    if live_only:
        where = where & VOTES.c.withdrawn_at.is_(None)
    if vote_ids is not None:
        where = where & VOTES.c.id.in_(vote_ids)
    statement = (
        update(VOTES)
        .values(status=to_status.value, status_reason=None if reason is None else reason[:300])
        .returning(
            VOTES.c.id,
            VOTES.c.voter_id,
            VOTES.c.idea_id,
            VOTES.c.weight,
            VOTES.c.withdrawn_at,
        )
    )
    rows: list[Any] = []
    if voter_ids is None:
        rows = list(session.execute(statement.where(where)).all())
    else:
        ordered = sorted(set(voter_ids))
        for start in range(0, len(ordered), ID_BATCH):
            batch = ordered[start : start + ID_BATCH]
            rows += session.execute(statement.where(where, VOTES.c.voter_id.in_(batch))).all()
    changed = [Changed(int(a), int(b), int(c), int(d), e is not None) for a, b, c, d, e in rows]
    sign = _counts(to_status) - _counts(from_status)
    if sign:
        deltas: dict[int, tuple[int, int]] = {}
        for vote in changed:
            if not vote.withdrawn:
                votes, points = deltas.get(vote.idea_id, (0, 0))
                deltas[vote.idea_id] = (votes + sign, points + sign * vote.weight)
        adjust(session, round_id=round_id, deltas=deltas)
    return changed


def _counts(status: VoteStatus) -> int:
    return 1 if status == VoteStatus.COUNTED else 0


def void(
    session: Session,
    *,
    round_id: int,
    from_status: VoteStatus,
    reason: str,
    vote_ids: Any = None,
    voter_ids: Sequence[int] | None = None,
) -> list[Changed]:
    """Void the chosen live votes in `from_status` (counted or held): kept as evidence."""
    return change_status(
        session,
        round_id=round_id,
        from_status=from_status,
        to_status=VoteStatus.VOID,
        reason=reason,
        vote_ids=vote_ids,
        voter_ids=voter_ids,
    )


def restore(
    session: Session, *, round_id: int, to_status: VoteStatus, vote_ids: Any
) -> list[Changed]:
    """Undo a void: the chosen void votes get back `to_status`, withdrawn ones too (which
    then stay out of the tally)."""
    return change_status(
        session,
        round_id=round_id,
        from_status=VoteStatus.VOID,
        to_status=to_status,
        reason=None,
        vote_ids=vote_ids,
        live_only=False,
    )


def release(
    session: Session, *, round_id: int, voter_ids: Sequence[int], reason: str
) -> list[Changed]:
    """Count the live held votes of these voters (a reviewer's release)."""
    return change_status(
        session,
        round_id=round_id,
        from_status=VoteStatus.HELD,
        to_status=VoteStatus.COUNTED,
        reason=reason,
        voter_ids=voter_ids,
    )
