"""What features built on voting lend it, without voting importing them.

Results depends on voting, never the reverse: importing `cocreate.results` (the app does, as
does anything that loads the tables, `cocreate.models`) registers here how to read a
certified round's published standings, which a method's part of the results page may follow
(the ranked method lists its matrices' ideas in that order). Asking with nothing registered
is an error, never an empty answer.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

from sqlmodel import Session


@dataclass(frozen=True)
class PublishedRow:
    """One idea's certified standing, as the results page publishes it."""

    idea_id: int
    title: str
    position: int  # 1.. in the published order
    rank: int  # shared by equal scores
    advanced: bool | None  # None: the jury has still to decide


class PublishedOrder(Protocol):
    """A certified round's standings in published order: only `idea_ids` when given, only
    the first `first` places when given."""

    def __call__(
        self,
        *,
        session: Session,
        round_id: int | None,
        idea_ids: Collection[int] | None = None,
        first: int | None = None,
    ) -> list[PublishedRow]: ...


_published_order: list[PublishedOrder] = []


def register_published_order(order: PublishedOrder) -> None:
    """Set how a certified round's standings are read (one at a time: the last registered)."""
    _published_order[:] = [order]


def published_order(
    *,
    session: Session,
    round_id: int | None,
    idea_ids: Collection[int] | None = None,
    first: int | None = None,
) -> list[PublishedRow]:
    if not _published_order:
        raise RuntimeError("No reader of certified results is registered: import cocreate.results")
    return _published_order[0](session=session, round_id=round_id, idea_ids=idea_ids, first=first)
