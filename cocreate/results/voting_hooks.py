"""Results' part in the voting feature, registered in `cocreate.voting.hooks` when this
package is imported: a method's part of the results page reads a certified round's order
through it (voting never imports results)."""

from __future__ import annotations

from collections.abc import Collection

from sqlmodel import Session, col, select

from cocreate.ideas.models import Idea
from cocreate.results.models import RoundResult
from cocreate.voting import hooks


def published_order(
    *, session: Session, round_id: int | None, idea_ids: Collection[int]
) -> list[tuple[int, str]]:
    """(idea id, title) of these ideas of a certified round, in its published order."""
    ordered = session.exec(
        select(RoundResult.idea_id, Idea.title)
        .join(Idea, col(Idea.id) == RoundResult.idea_id)
        .where(RoundResult.round_id == round_id, col(RoundResult.idea_id).in_(idea_ids))
        .order_by(col(RoundResult.position))
    ).all()
    return [(i, t) for i, t in ordered]


def register() -> None:
    hooks.register_published_order(published_order)
