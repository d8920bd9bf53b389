"""Tally methods as pure functions of the counted ballots: no database, no clock.

Approval, single choice and points all reduce to a sum of weights per idea. Ranked ballots are
decided by the Schulze method (strongest paths over the pairwise preference matrix), whose
matrices are returned so the results page can show them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
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


@dataclass(frozen=True)
class SchulzeResult:
    candidates: tuple[int, ...]
    pairwise: dict[tuple[int, int], int]  # d[a, b]: voters who rank a above b
    strongest: dict[tuple[int, int], int]  # p[a, b]: strength of the strongest path a -> b
    standings: list[Standing]  # score = number of candidates beaten by strongest paths


def pairwise_preferences(
    ballots: Iterable[Sequence[int]], candidates: Sequence[int]
) -> dict[tuple[int, int], int]:
    """d[a, b] for every ordered pair. A ballot ranks its listed ideas in order, above every
    idea it leaves out; it says nothing between two ideas it leaves out."""
    index = {c: n for n, c in enumerate(candidates)}
    d: dict[tuple[int, int], int] = {(a, b): 0 for a in candidates for b in candidates if a != b}
    for ballot in ballots:
        ranked = [c for c in dict.fromkeys(ballot) if c in index]
        seen: set[int] = set()
        for c in ranked:
            seen.add(c)
            for other in candidates:
                if other not in seen:
                    d[c, other] += 1
    return d


def schulze(
    ballots: Iterable[Sequence[int]],
    candidates: Sequence[int],
    *,
    tie_break: Callable[[int], tuple[object, ...]] | None = None,
) -> SchulzeResult:
    cands = tuple(dict.fromkeys(candidates))
    d = pairwise_preferences(ballots, cands)
    p: dict[tuple[int, int], int] = {
        (a, b): (d[a, b] if d[a, b] > d[b, a] else 0) for a in cands for b in cands if a != b
    }
    # Widest paths (Floyd-Warshall on the bottleneck semiring): O(n^3) in the entrants, which
    # is why a ranked round takes a shortlist (see voting docs), not ten thousand ideas.
    for k in cands:
        for i in cands:
            if i == k:
                continue
            pik = p[i, k]
            if pik == 0:
                continue
            for j in cands:
                if j == i or j == k:
                    continue
                through = min(pik, p[k, j])
                if through > p[i, j]:
                    p[i, j] = through
    wins = {a: sum(1 for b in cands if b != a and p[a, b] > p[b, a]) for a in cands}
    return SchulzeResult(cands, d, p, rank(wins, cands, tie_break=tie_break))
