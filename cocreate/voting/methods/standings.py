"""Standings from scores: pure functions, no database, no clock. Every voting method ranks
its ideas with `rank` once it has scored them (`methods/*.py`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Standing:
    idea_id: int
    score: int
    rank: int  # standard competition ranking: equal scores share a rank ("1224")
    tied: bool  # shares its rank with another idea


def sum_weights(votes: Iterable[tuple[int, int]]) -> Counter[int]:
    """Score per idea from (idea_id, weight) pairs: weight 1 for approval/single, points else."""
    scores: Counter[int] = Counter()
    for idea_id, weight in votes:
        scores[idea_id] += weight
    return scores


def rank(
    scores: Mapping[int, int],
    entrants: Iterable[int],
    *,
    tie_break: Callable[[int], tuple[object, ...]] | None = None,
) -> list[Standing]:
    """Entrants ordered by score (ideas with no vote score 0).

    Equal scores share a rank. `tie_break` (e.g. earlier submission first) only orders the
    list inside a tie; ranks stay shared so the page can show that a tie was broken and how.
    """
    ids = set(entrants) | set(scores)

    def key(i: int) -> tuple[object, ...]:
        return (-scores.get(i, 0), *(tie_break(i) if tie_break else ()), i)

    ordered = sorted(ids, key=key)
    counts = Counter(scores.get(i, 0) for i in ordered)
    standings: list[Standing] = []
    for position, idea_id in enumerate(ordered):
        score = scores.get(idea_id, 0)
        if standings and standings[-1].score == score:
            shared = standings[-1].rank
        else:
            shared = position + 1
        standings.append(Standing(idea_id, score, shared, counts[score] > 1))
    return standings
