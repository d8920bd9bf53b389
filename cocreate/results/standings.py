"""The rows a results page shows: what the visitor may see, then a page of the standings.

Certified standings are frozen rows (`round_results`: an index range scan, however many
votes were cast); live ones come from the per-idea tallies the vote path keeps current
(`idea_tallies`), never from the vote log, so a page costs the same with ten votes or ten
million.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func
from sqlalchemy import select as sql_select
from sqlmodel import Session, col, select

from cocreate.campaigns.models import Stage
from cocreate.ideas.models import Idea
from cocreate.results.models import RoundCertification, RoundResult
from cocreate.voting.entrants import in_round, is_first_round
from cocreate.voting.methods import method_of
from cocreate.voting.models import IdeaTally, Round, TieBreak

PER_PAGE = 50


def _id(value: int | None) -> int:
    assert value is not None, "flushed rows have ids"
    return value


class Showing(enum.StrEnum):
    NOT_STARTED = "not_started"
    HIDDEN = "hidden"  # the public waits for the certified results
    RANKS = "ranks"  # order without counts
    LIVE = "live"  # live counts
    CERTIFIED = "certified"


def what_to_show(round_: Round, stage: Stage, now: datetime, *, staff: bool) -> Showing:
    """Certified results are public; before that the round's visibility decides for the
    public, while the brand's staff always follow the live count."""
    if round_.certified_at is not None:
        return Showing.CERTIFIED
    if now < stage.opens_at:
        return Showing.NOT_STARTED
    if staff:
        return Showing.LIVE
    return Showing(round_.visibility)


@dataclass(frozen=True)
class ResultRow:
    idea_id: int
    title: str
    position: int
    rank: int
    tied: bool
    votes: int
    points: int
    score: int
    advanced: bool | None


@dataclass(frozen=True)
class ResultsPage:
    rows: list[ResultRow]
    ideas: int  # how many ideas in all (for the pages)
    page: int
    pages: int
    top_score: int  # the bars' full length
    total_votes: int
    total_points: int


def _pages(total: int, per_page: int) -> int:
    return max(1, math.ceil(total / per_page))


def certified_results(
    *, session: Session, round_: Round, page: int = 1, per_page: int = PER_PAGE
) -> ResultsPage:
    """A page of the frozen results: an index range scan, however many votes were cast."""
    round_id = _id(round_.id)
    totals = session.get(RoundCertification, round_id)
    assert totals is not None, "a certified round has its certification row"
    ideas, total_votes, total_points = totals.ideas, totals.counted_votes, totals.counted_points
    pages = _pages(int(ideas), per_page)
    page = min(max(page, 1), pages)
    top = session.exec(
        select(RoundResult.score).where(RoundResult.round_id == round_id, RoundResult.position == 1)
    ).first()
    rows = session.exec(
        select(RoundResult, Idea.title)
        .join(Idea, col(Idea.id) == RoundResult.idea_id)
        .where(
            RoundResult.round_id == round_id,
            RoundResult.position > (page - 1) * per_page,
            RoundResult.position <= page * per_page,
        )
        .order_by(col(RoundResult.position))
    ).all()
    return ResultsPage(
        [
            ResultRow(
                r.idea_id, title, r.position, r.rank, r.tied, r.votes, r.points, r.score, r.advanced
            )
            for r, title in rows
        ],
        int(ideas),
        page,
        pages,
        int(top or 0),
        int(total_votes),
        int(total_points),
    )


def live_results(
    *, session: Session, round_: Round, page: int = 1, per_page: int = PER_PAGE
) -> ResultsPage:
    """A page of the live standings from the per-idea tallies (never the vote log).

    Two queries over the entrants joined to their tallies: how many ideas hold each score
    (which gives every rank, tie, total and the top score), then one page in order (a top-N
    sort, no window function). Ranked rounds are ordered by how many ballots list an idea:
    the Schulze order is computed at certification.
    """
    round_id = _id(round_.id)
    first = is_first_round(session=session, round_=round_)
    votes = func.coalesce(IdeaTally.votes, 0)
    points = func.coalesce(IdeaTally.points, 0)
    score = method_of(round_).score_expression(votes, points)
    joined = and_(col(IdeaTally.round_id) == round_id, col(IdeaTally.idea_id) == Idea.id)
    entrants = in_round(round_, first_round=first)
    by_score = {
        int(s): (int(n), int(v), int(p))
        for s, n, v, p in session.execute(
            sql_select(score, func.count(), func.sum(votes), func.sum(points))
            .select_from(Idea)
            .outerjoin(IdeaTally, joined)
            .where(entrants)
            .group_by(score)
        ).all()
    }
    ranks: dict[int, int] = {}
    above = 0
    for value in sorted(by_score, reverse=True):
        ranks[value] = above + 1
        above += by_score[value][0]
    ideas = above
    pages = _pages(ideas, per_page)
    page = min(max(page, 1), pages)
    offset = (page - 1) * per_page
    order: list[Any] = [score.desc()]
    if round_.tie_break == TieBreak.EARLIER_SUBMISSION:
        order.append(func.coalesce(Idea.submitted_at, Idea.created_at))
    order.append(col(Idea.id))
    # The scores this page spans follow from the counts: ask only for those ideas. When they
    # all have votes, start from their tally rows (an inner join on a few rows) instead of
    # joining every entrant.
    high, low, skipped = _score_window(by_score, offset, per_page)
    query = sql_select(col(Idea.id), col(Idea.title), votes, points, score)
    if low > 0:
        query = query.select_from(IdeaTally).join(Idea, col(Idea.id) == IdeaTally.idea_id)
        query = query.where(col(IdeaTally.round_id) == round_id)
    else:
        query = query.select_from(Idea).outerjoin(IdeaTally, joined)
    rows = session.execute(
        query.where(entrants, score <= high, score >= low)
        .order_by(*order)
        .offset(offset - skipped)
        .limit(per_page)
    ).all()
    return ResultsPage(
        [
            ResultRow(
                _id(i), t, offset + n, ranks[s], by_score[s][0] > 1, int(v), int(p), int(s), None
            )
            for n, (i, t, v, p, s) in enumerate(rows, start=1)
        ],
        ideas,
        page,
        pages,
        max(by_score, default=0),
        sum(v for _, v, _ in by_score.values()),
        sum(p for _, _, p in by_score.values()),
    )


def _score_window(
    by_score: Mapping[int, tuple[int, int, int]], offset: int, per_page: int
) -> tuple[int, int, int]:
    """(highest score, lowest score, ideas scoring above the highest) of the page that
    holds places offset + 1 .. offset + per_page of the standings."""
    high: int | None = None
    low = 0
    skipped = seen = 0
    for value in sorted(by_score, reverse=True):
        count = by_score[value][0]
        if seen + count <= offset:
            skipped += count
        elif seen < offset + per_page:
            high = value if high is None else high
            low = value
        seen += count
    return (high or 0), low, skipped
