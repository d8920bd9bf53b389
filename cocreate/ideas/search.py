"""The ideas' word index: look-up terms written with each idea, the gallery's search
condition, and look-alike titles (for the submission form and moderation's merges).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    delete,
    func,
    insert,
    intersect,
    not_,
    or_,
    true,
    union_all,
)
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from cocreate.ideas.models import Idea, IdeaStatus, IdeaTerm
from cocreate.ideas.similarity import prefix_range, rank_similar, terms
from cocreate.ideas.visibility import publicly_visible

# Similar titles: how many ideas one word may bring in, and how many reach rapidfuzz.
CANDIDATES_PER_TERM = 2000
MAX_CANDIDATES = 300
# A search matching at most this many ideas reads their ids first (see search_filter).
SEARCH_ID_LIST_MAX = 1000
# Look-alikes waiting for moderation counted at most (the hint says a number, not a list).
WAITING_MAX = 20


def _id(value: int | None) -> int:
    assert value is not None, "saved rows have ids"
    return value


def reindex_terms(*, session: Session, idea: Idea) -> None:
    """Rewrite the look-up terms of an idea from its title and description."""
    idea_id = _id(idea.id)
    session.exec(delete(IdeaTerm).where(col(IdeaTerm.idea_id) == idea_id))
    rows = index_rows(idea)
    if rows:
        session.exec(insert(IdeaTerm), params=rows)


def index_rows(idea: Idea) -> list[dict[str, object]]:
    """The IdeaTerm rows of an idea (also used by the benchmark's bulk loader)."""
    title_terms = terms(idea.title)
    all_terms = dict.fromkeys(title_terms + terms(idea.description))
    title_set = set(title_terms)
    return [
        {"campaign_id": idea.campaign_id, "term": t, "idea_id": idea.id, "in_title": t in title_set}
        for t in all_terms
    ]


def _ideas_with_word(campaign_id: int, word: str) -> SelectOfScalar[int]:
    """Ids of the ideas of the campaign with a title or description word starting `word`."""
    low, high = prefix_range(word)
    return select(IdeaTerm.idea_id).where(
        IdeaTerm.campaign_id == campaign_id,
        col(IdeaTerm.in_title).in_([False, True]),  # two ranges of the primary key
        col(IdeaTerm.term).between(low, high),
    )


def search_filter(session: Session, campaign_id: int, text: str) -> list[ColumnElement[bool]]:
    """Conditions on Idea for a search: every word must start one of the idea's words.

    Few matches (the words together are rare): their ids are read first and the page is
    picked among them. Many matches: one membership test per word, and the database walks the
    gallery in order until the page is full. Left to itself, PostgreSQL's planner takes the
    first way for many matches too and scans the whole table (40 ms at 100,000 ideas).
    """
    words = terms(text, limit=6)
    if not words:
        return []
    selects = [_ideas_with_word(campaign_id, word) for word in words]
    matching = intersect(*selects).subquery() if len(selects) > 1 else selects[0].subquery()
    found = session.exec(select(matching.c.idea_id).distinct().limit(SEARCH_ID_LIST_MAX + 1)).all()
    if len(found) <= SEARCH_ID_LIST_MAX:
        return [col(Idea.id).in_(found)]
    return [col(Idea.id).in_(each) for each in selects]


def similar_ideas(
    *,
    session: Session,
    campaign_id: int,
    title: str,
    limit: int = 5,
    exclude: int | None = None,
    moderation_mode: str | None = None,
) -> list[Idea]:
    """Ideas of the campaign whose title looks like `title`, best first: the ones the public
    sees in a campaign of `moderation_mode`, or, without it, approved ones (moderation's
    merge candidates, hidden or not)."""
    shown = (
        col(Idea.status) == IdeaStatus.APPROVED
        if moderation_mode is None
        else publicly_visible(moderation_mode)
    )
    [ranked] = _look_alikes(session, campaign_id, title, [(shown, limit)], exclude=exclude)
    return _in_order(session, ranked)


def similar_and_waiting(
    *,
    session: Session,
    campaign_id: int,
    title: str,
    moderation_mode: str,
    limit: int = 5,
    exclude: int | None = None,
) -> tuple[list[Idea], int]:
    """The submission form's hint, in one look-up: the look-alikes the public sees (best
    first), and how many more wait for moderation out of the public's sight (a number only:
    their titles are not for others to read)."""
    shown = publicly_visible(moderation_mode)
    waiting = and_(col(Idea.status) == IdeaStatus.PENDING, not_(shown))
    ranked, pending = _look_alikes(
        session, campaign_id, title, [(shown, limit), (waiting, WAITING_MAX)], exclude=exclude
    )
    return _in_order(session, ranked), len(pending)


def _in_order(session: Session, ids: list[int]) -> list[Idea]:
    if not ids:
        return []
    by_id = {idea.id: idea for idea in session.exec(select(Idea).where(col(Idea.id).in_(ids)))}
    return [by_id[idea_id] for idea_id in ids if idea_id in by_id]


def _look_alikes(
    session: Session,
    campaign_id: int,
    title: str,
    groups: Sequence[tuple[ColumnElement[bool], int]],
    *,
    exclude: int | None,
) -> list[list[int]]:
    """For each (condition, limit) group: ids of the campaign's ideas meeting the condition
    whose title looks like `title`, best first (an idea goes to the first group it meets).

    Candidates come from the database in one query (ideas sharing title word prefixes with
    `title`, those sharing the most first); rapidfuzz then ranks at most MAX_CANDIDATES of
    them on their folded titles.
    """
    words = terms(title, limit=8)
    if not words:
        return [[] for _group in groups]
    per_word = []
    for word in words:
        # Five letters are enough to find the word's family and forgive a typo further on.
        low, high = prefix_range(word[:5]) if len(word) >= 3 else (word, word)
        # A bare index range: joining `ideas` here for the status makes PostgreSQL's planner
        # hash the whole table; the status is checked once, on the grouped candidates.
        found = (
            select(IdeaTerm.idea_id)
            .where(
                IdeaTerm.campaign_id == campaign_id,
                col(IdeaTerm.in_title) == true(),
                col(IdeaTerm.term).between(low, high),
            )
            .limit(CANDIDATES_PER_TERM)
            .subquery()
        )
        per_word.append(select(found.c.idea_id))
    hits = union_all(*per_word).subquery()
    # The ideas sharing the most words, before the status check (most ideas are approved).
    shared = (
        select(hits.c.idea_id, func.count().label("words"))
        .group_by(hits.c.idea_id)
        .order_by(func.count().desc(), hits.c.idea_id.desc())
        .limit(MAX_CANDIDATES * 2)
        .subquery()
    )
    group = case(*((condition, index) for index, (condition, _limit) in enumerate(groups)))
    candidates = (
        select(Idea.id, Idea.search_key, group)
        .join(shared, shared.c.idea_id == Idea.id)
        .where(or_(*(condition for condition, _limit in groups)))
        .order_by(shared.c.words.desc(), col(Idea.id).desc())
        .limit(MAX_CANDIDATES)
    )
    if exclude is not None:
        candidates = candidates.where(Idea.id != exclude)
    rows = session.exec(candidates).all()
    ranked: list[list[int]] = []
    for index, (_condition, limit) in enumerate(groups):
        keys = ((_id(i), k) for i, k, g in rows if g == index)
        ranked.append([idea_id for idea_id, _score in rank_similar(title, keys, limit=limit)])
    return ranked
