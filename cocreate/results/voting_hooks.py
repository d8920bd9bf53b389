"""Results' part in the voting feature, registered in `cocreate.voting.hooks` when this
package is imported: a method's part of the results page reads a certified round's
standings through it (voting never imports results)."""

from __future__ import annotations

from collections.abc import Collection

from sqlmodel import Session, col, select

from cocreate.ideas.models import Idea
from cocreate.results.models import RoundResult
from cocreate.voting import hooks
from cocreate.voting.hooks import PublishedRow


def published_order(
    *,
    session: Session,
    round_id: int | None,
    idea_ids: Collection[int] | None = None,
    first: int | None = None,
) -> list[PublishedRow]:
    """The round's certified standings in published order (`hooks.PublishedOrder`)."""
    query = (
        select(RoundResult, Idea.title)
        .join(Idea, col(Idea.id) == RoundResult.idea_id)
        .where(RoundResult.round_id == round_id)
        .order_by(col(RoundResult.position))
    )
    if idea_ids is not None:
        query = query.where(col(RoundResult.idea_id).in_(idea_ids))
    if first is not None:
        query = query.where(RoundResult.position <= first)
    return [
        PublishedRow(r.idea_id, title, r.position, r.rank, r.advanced)
        for r, title in session.exec(query).all()
    ]


def register() -> None:
    hooks.register_published_order(published_order)
