"""The public gallery of a campaign's ideas: one page at a time, in the chosen order, found by
keyset (fast at any depth), filtered by category and searched by words.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

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


@dataclass(frozen=True)
class GalleryPage:
    ideas: list[Idea]
    next_cursor: str | None


def _cursor(idea: Idea, sort: str) -> str:
    if sort == "newest":
        assert idea.submitted_at is not None
        micros = int(idea.submitted_at.timestamp() * 1_000_000)
        return f"{micros}.{idea.id}"
    if sort == "votes":
        return f"{idea.vote_count}.{idea.id}"
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
        else:
            rows += session.exec(_sorted(base, query.sort, after).limit(take)).all()
    rows = sorted(rows, key=_order_key(query.sort, query.seed))[:take]
    ideas = rows[: query.limit]
    more = len(rows) > query.limit
    return GalleryPage(ideas, _cursor(ideas[-1], query.sort) if more and ideas else None)


def _order_key(sort: str, seed: int) -> Callable[[Idea], tuple[int, ...]]:
    """The gallery's order as a Python sort key (the same as `_sorted` and `_random_order`)."""
    if sort == "newest":
        return lambda i: (-int((i.submitted_at or _EPOCH).timestamp() * 1_000_000), -_id(i.id))
    if sort == "votes":
        return lambda i: (-i.vote_count, -_id(i.id))
    return lambda i: (int(i.random_key < seed), i.random_key, _id(i.id))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _sorted(
    base: SelectOfScalar[Idea], sort: str, after: tuple[int, int] | None
) -> SelectOfScalar[Idea]:
    if sort == "votes":
        key = col(Idea.vote_count)
        if after is not None:
            base = base.where(tuple_(key, col(Idea.id)) < tuple_(after[0], after[1]))
        return base.order_by(key.desc(), col(Idea.id).desc())
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
