"""The public gallery of a campaign's ideas: one page at a time, in the chosen order, found by
keyset (fast at any depth), filtered by category and searched by words.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import ColumnElement, tuple_
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from cocreate.campaigns.models import ModerationMode
from cocreate.ideas.models import Idea
from cocreate.ideas.search import search_filter
from cocreate.ideas.visibility import public_statuses, publicly_visible
from cocreate.integers import id_or_none, int_or_none

PAGE_SIZE = 24
SORTS = ("newest", "votes", "random")


def _id(value: int | None) -> int:
    assert value is not None, "saved rows have ids"
    return value


class VoteOrder(Protocol):
    """Where "most voted" and the counts on the cards come from: the votes of one round
    (voting's tallies), so the gallery never adds up rounds. Given by the caller: the ideas
    feature does not read votes."""

    def counts(self, session: Session, idea_ids: Sequence[int]) -> Mapping[int, int]:
        """Counted votes of these ideas (absent: none)."""
        ...

    def page(
        self,
        session: Session,
        base: SelectOfScalar[Idea],
        after: tuple[int, int] | None,
        take: int,
    ) -> list[Idea]:
        """Up to `take` ideas of `base` in (votes, id) descending order after `after`."""
        ...


@dataclass(frozen=True)
class GalleryQuery:
    campaign_id: int
    sort: str = "newest"
    category: str | None = None
    search: str = ""
    after: str | None = None  # cursor of the last idea on the previous page
    seed: int = 0  # where the "random" order starts (fixed per visitor, in the links)
    limit: int = PAGE_SIZE
    # The campaign's: post-moderated campaigns show pending ideas too.
    moderation_mode: str = ModerationMode.PRE
    votes: VoteOrder | None = field(default=None, compare=False)  # None: no round yet


@dataclass(frozen=True)
class GalleryPage:
    ideas: list[Idea]
    next_cursor: str | None
    votes: Mapping[int, int] = field(default_factory=dict)  # idea id -> the round's votes


def _cursor(idea: Idea, sort: str, votes: Mapping[int, int]) -> str:
    if sort == "newest":
        assert idea.submitted_at is not None
        micros = int(idea.submitted_at.timestamp() * 1_000_000)
        return f"{micros}.{idea.id}"
    if sort == "votes":
        return f"{votes.get(_id(idea.id), 0)}.{idea.id}"
    return f"{idea.random_key}.{idea.id}"


def parse_cursor(value: str | None, sort: str) -> tuple[int, int] | None:
    """(key, id) from a cursor; None when absent or not one of ours (then: first page)."""
    if not value:
        return None
    key, _sep, idea_id = value.partition(".")
    # Keys fit their column: a vote count or random key is an int, a time is before 10000.
    ceiling = _LATEST_MICROS if sort == "newest" else 2**63 - 1
    parsed = int_or_none(key, minimum=0, maximum=ceiling), id_or_none(idea_id)
    return (parsed[0], parsed[1]) if parsed[0] is not None and parsed[1] is not None else None


_LATEST_MICROS = int(datetime(9999, 12, 31, tzinfo=UTC).timestamp() * 1_000_000)


def _micros_to_datetime(micros: int) -> datetime:
    return datetime.fromtimestamp(micros / 1_000_000, tz=UTC)


def gallery_page(*, session: Session, query: GalleryQuery) -> GalleryPage:
    """One page of publicly visible ideas in the chosen order, found by keyset (fast at any
    depth).

    A post-moderated campaign shows two statuses: one ordered index walk per status, merged
    here, rather than one query the database would answer by sorting every visible idea.
    """
    conditions: list[ColumnElement[bool]] = [col(Idea.campaign_id) == query.campaign_id]
    if query.category:
        conditions.append(col(Idea.category) == query.category)
    conditions += search_filter(session, query.campaign_id, query.search)
    after = parse_cursor(query.after, query.sort)
    take = query.limit + 1  # one more tells whether there is a next page
    rows: list[Idea] = []
    for status in public_statuses(query.moderation_mode):
        base = select(Idea).where(
            *conditions,
            col(Idea.status) == status,
            publicly_visible(query.moderation_mode),
        )
        if query.sort == "random":
            rows += _random_order(session, base, query.seed, after, take)
        elif query.sort == "votes" and query.votes is not None:
            rows += query.votes.page(session, base, after, take)
        else:
            rows += session.exec(_sorted(base, query.sort, after).limit(take)).all()
    votes: Mapping[int, int] = {}
    if query.votes is not None and rows:
        votes = query.votes.counts(session, [_id(i.id) for i in rows])
    rows = sorted(rows, key=_order_key(query.sort, query.seed, votes))[:take]
    ideas = rows[: query.limit]
    more = len(rows) > query.limit
    cursor = _cursor(ideas[-1], query.sort, votes) if more and ideas else None
    return GalleryPage(ideas, cursor, votes)


def _order_key(sort: str, seed: int, votes: Mapping[int, int]) -> Callable[[Idea], tuple[int, ...]]:
    """The gallery's order as a Python sort key (the same as the queries')."""
    if sort == "newest":
        return lambda i: (-int((i.submitted_at or _EPOCH).timestamp() * 1_000_000), -_id(i.id))
    if sort == "votes":
        return lambda i: (-votes.get(_id(i.id), 0), -_id(i.id))
    return lambda i: (int(i.random_key < seed), i.random_key, _id(i.id))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _sorted(
    base: SelectOfScalar[Idea], sort: str, after: tuple[int, int] | None
) -> SelectOfScalar[Idea]:
    if sort == "votes":  # no round has opened: no idea has a vote yet
        if after is not None:
            base = base.where(col(Idea.id) < after[1])
        return base.order_by(col(Idea.id).desc())
    submitted = col(Idea.submitted_at)
    base = base.where(submitted.is_not(None))
    if after is not None:
        when = _micros_to_datetime(after[0])
        base = base.where(tuple_(submitted, col(Idea.id)) < tuple_(when, after[1]))
    return base.order_by(submitted.desc(), col(Idea.id).desc())


def _random_order(
    session: Session,
    base: SelectOfScalar[Idea],
    seed: int,
    after: tuple[int, int] | None,
    take: int,
) -> list[Idea]:
    """random_key order rotated to start at `seed`: [seed, max] then [0, seed). Indexable."""
    key = col(Idea.random_key)
    order = (key.asc(), col(Idea.id).asc())
    rows: list[Idea] = []
    second_lap = after is not None and after[0] < seed
    if not second_lap:
        first = base.where(key >= seed)
        if after is not None:
            first = first.where(tuple_(key, col(Idea.id)) > tuple_(after[0], after[1]))
        rows = list(session.exec(first.order_by(*order).limit(take)).all())
        after = None
    if len(rows) < take:
        second = base.where(key < seed)
        if after is not None:
            second = second.where(tuple_(key, col(Idea.id)) > tuple_(after[0], after[1]))
        rows += session.exec(second.order_by(*order).limit(take - len(rows))).all()
    return rows
