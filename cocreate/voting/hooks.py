"""What features built on voting lend it, without voting importing them.

Results depends on voting, never the reverse: importing `cocreate.results` (the app does, as
does anything that loads the tables, `cocreate.models`) registers here how to read a
certified round's published order, which a method's part of the results page may follow
(the ranked method lists its matrices' ideas in that order). Asking with nothing registered
is an error, never an empty answer.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

from sqlmodel import Session


class PublishedOrder(Protocol):
    """(idea id, title) of these ideas of a certified round, in its published order."""

    def __call__(
        self, *, session: Session, round_id: int | None, idea_ids: Collection[int]
    ) -> list[tuple[int, str]]: ...


_published_order: list[PublishedOrder] = []


def register_published_order(order: PublishedOrder) -> None:
    """Set how a certified round's order is read (one at a time: the last registered)."""
    _published_order[:] = [order]


def published_order(
    *, session: Session, round_id: int | None, idea_ids: Collection[int]
) -> list[tuple[int, str]]:
    if not _published_order:
        raise RuntimeError("No reader of certified results is registered: import cocreate.results")
    return _published_order[0](session=session, round_id=round_id, idea_ids=idea_ids)
