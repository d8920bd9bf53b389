"""Votes follow a merged duplicate to the idea it joined, and go back when the merge is undone.

The votes, ballots and tallies belong to the voting feature: its store makes the move
(`cocreate.voting.store.moves`, where the rules are written), inside the moderator's
decision transaction, so the idea's status change and its votes commit or roll back
together. Certified rounds are never touched.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from cocreate.voting import store
from cocreate.voting.service import points_spent


def move_votes(
    *, session: Session, campaign_id: int, source_id: int, target_id: int, now: datetime
) -> dict[str, list[int]]:
    """Move the duplicate's live votes to the idea it joined; returns what moved, for the
    decision's `effects` and for `restore_votes`."""
    return store.move(
        session=session,
        campaign_id=campaign_id,
        source_id=source_id,
        target_id=target_id,
        now=now,
        refund=points_spent,
    )


def restore_votes(
    *,
    session: Session,
    campaign_id: int,
    source_id: int,
    target_id: int,
    moved: dict[str, list[int]],
) -> None:
    """Undo `move_votes` with what it returned, in rounds still not certified."""
    store.move_back(
        session=session,
        campaign_id=campaign_id,
        source_id=source_id,
        target_id=target_id,
        moved=moved,
        refund=points_spent,
    )
