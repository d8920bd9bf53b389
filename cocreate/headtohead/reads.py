"""The reads of the pair chooser (and of pages): a few index range scans, whatever the
round's size.

Each statement is built once, with bind parameters, and reused: building a statement and
its cache key cost more in Python (~0.3 ms each) than the database took to run it. Each read
is one round trip: where a read needs a fallback (the least compared from a random key,
wrapping around, then the next fewest), the parts are `UNION ALL`ed, each with its own small
`LIMIT` on its index, and put in order here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, bindparam, func, literal, select, true, tuple_, union_all
from sqlmodel import Session

from cocreate.headtohead.models import HeadToHeadChoice, HeadToHeadStats

CHOICES = HeadToHeadChoice.__table__  # type: ignore[attr-defined]
STATS = HeadToHeadStats.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Candidate:
    """One idea's statistics as the chooser reads them."""

    idea_id: int
    comparisons: int
    score: float
    shuffle_key: int


def offered(round_id: Any) -> Any:
    """The round's ideas the chooser may offer. `active = true`, not `active IS true`: only
    the former is an index condition on PostgreSQL."""
    return (STATS.c.round_id == round_id) & (STATS.c.active == true())


_ROUND = bindparam("round_id", type_=Integer())
_KEY = bindparam("start_key", type_=Integer())
_LIMIT = bindparam("limit", type_=Integer())
_COLUMNS = (STATS.c.idea_id, STATS.c.comparisons, STATS.c.score, STATS.c.shuffle_key)


def _part(number: int, *where: Any, order: Sequence[Any]) -> Any:
    return (
        select(*_COLUMNS, literal(number, Integer()).label("part"))
        .where(offered(_ROUND), *where)
        .order_by(*order)
        .limit(_LIMIT)
        .subquery()
        .select()
    )


_FEWEST = (
    select(func.min(STATS.c.comparisons)).where(offered(_ROUND)).correlate(None).scalar_subquery()
)
# The least compared from the key on, then from the start (wrapping), then the next fewest.
FEWEST_COMPARED = union_all(
    _part(
        0,
        STATS.c.comparisons == _FEWEST,
        STATS.c.shuffle_key >= _KEY,
        order=[STATS.c.shuffle_key],
    ),
    _part(
        1, STATS.c.comparisons == _FEWEST, STATS.c.shuffle_key < _KEY, order=[STATS.c.shuffle_key]
    ),
    _part(2, STATS.c.comparisons > _FEWEST, order=[STATS.c.comparisons, STATS.c.shuffle_key]),
)
_AT = tuple_(STATS.c.score, STATS.c.shuffle_key)
_SCORE = bindparam("score", type_=STATS.c.score.type)
NEAREST_SCORES = union_all(
    _part(0, _AT >= tuple_(_SCORE, _KEY), order=[STATS.c.score, STATS.c.shuffle_key]),
    _part(1, _AT < tuple_(_SCORE, _KEY), order=[STATS.c.score.desc(), STATS.c.shuffle_key.desc()]),
)
RANDOM_IDEAS = union_all(
    _part(0, STATS.c.shuffle_key >= _KEY, order=[STATS.c.shuffle_key]),
    _part(1, order=[STATS.c.shuffle_key]),  # wrapping around
)
OFFERED_IDEAS = (
    select(*_COLUMNS)
    .where(offered(_ROUND))
    .order_by(STATS.c.comparisons, STATS.c.shuffle_key)
    .limit(_LIMIT)
)
JUDGED_PAIRS = select(CHOICES.c.low_idea_id, CHOICES.c.high_idea_id).where(
    CHOICES.c.round_id == _ROUND, CHOICES.c.voter_id == bindparam("voter_id", type_=Integer())
)


def _parts(session: Session, statement: Any, **params: Any) -> list[tuple[int, Candidate]]:
    return [
        (row.part, Candidate(row.idea_id, row.comparisons, row.score, row.shuffle_key))
        for row in session.execute(statement, params)
    ]


def _distinct(found: list[Candidate], limit: int) -> list[Candidate]:
    seen: set[int] = set()
    kept = []
    for candidate in found:
        if candidate.idea_id not in seen:
            seen.add(candidate.idea_id)
            kept.append(candidate)
    return kept[:limit]


def fewest_compared(
    *, session: Session, round_id: int, start_key: int, limit: int
) -> list[Candidate]:
    """Up to `limit` offered ideas with the fewest comparisons: those with the fewest from
    `start_key` on, wrapping around (a random key spreads concurrent voters over equally
    compared ideas), then the next fewest."""
    rows = _parts(session, FEWEST_COMPARED, round_id=round_id, start_key=start_key, limit=limit)
    rows.sort(key=lambda r: (r[0], r[1].comparisons, r[1].shuffle_key))
    return _distinct([c for _, c in rows], limit)


def nearest_scores(
    *, session: Session, round_id: int, score: float, start_key: int, limit: int
) -> list[Candidate]:
    """Up to `limit` offered ideas scored at or above `score` and `limit` below it (equal
    scores split at `start_key`, so that equal scores are met in a random order)."""
    rows = _parts(
        session, NEAREST_SCORES, round_id=round_id, score=score, start_key=start_key, limit=limit
    )
    return [c for _, c in rows]


def random_ideas(*, session: Session, round_id: int, start_key: int, limit: int) -> list[Candidate]:
    """Up to `limit` offered ideas in shuffle order from `start_key`, wrapping around."""
    rows = _parts(session, RANDOM_IDEAS, round_id=round_id, start_key=start_key, limit=limit)
    rows.sort(key=lambda r: (r[0], r[1].shuffle_key))
    return _distinct([c for _, c in rows], limit)


def offered_ideas(*, session: Session, round_id: int, limit: int) -> list[Candidate]:
    """Up to `limit` offered ideas, fewest comparisons first (the chooser's last resort)."""
    return [
        Candidate(row.idea_id, row.comparisons, row.score, row.shuffle_key)
        for row in session.execute(OFFERED_IDEAS, {"round_id": round_id, "limit": limit})
    ]


def judged_pairs(*, session: Session, round_id: int, voter_id: int) -> set[tuple[int, int]]:
    """The (lower id, higher id) pairs this voter has judged in the round, whatever their
    status (a held or void choice was still shown)."""
    rows = session.execute(JUDGED_PAIRS, {"round_id": round_id, "voter_id": voter_id})
    return {(low, high) for low, high in rows}


def statistics(
    *, session: Session, round_id: int, idea_ids: Sequence[int]
) -> dict[int, HeadToHeadStats]:
    """The statistics rows of these ideas (for pages and tests)."""
    rows = session.execute(
        select(HeadToHeadStats).where(
            HeadToHeadStats.round_id == round_id,  # type: ignore[arg-type]
            HeadToHeadStats.idea_id.in_(list(idea_ids)),  # type: ignore[attr-defined]
        )
    ).scalars()
    return {row.idea_id: row for row in rows}
