"""Tally methods against hand-worked cases, and properties that must hold for any ballots."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cocreate.voting.methods import pairwise_preferences, rank, schulze, sum_weights

A, B, C, D, E = 1, 2, 3, 4, 5


def expand(groups: list[tuple[int, list[int]]]) -> list[list[int]]:
    return [ballot for count, ballot in groups for _ in range(count)]


def test_approval_counts_one_per_idea_and_ties_share_a_rank() -> None:
    scores = sum_weights([(A, 1), (B, 1), (A, 1), (C, 1), (B, 1)])
    standings = rank(scores, [A, B, C, D])
    assert [(s.idea_id, s.score, s.rank) for s in standings] == [
        (A, 2, 1),
        (B, 2, 1),
        (C, 1, 3),
        (D, 0, 4),
    ]
    assert standings[0].tied and standings[1].tied and not standings[2].tied


def test_tie_break_orders_inside_the_tie_without_changing_the_shared_rank() -> None:
    submitted = {A: 20, B: 10}  # B was submitted first
    standings = rank({A: 5, B: 5}, [A, B], tie_break=lambda i: (submitted[i],))
    assert [s.idea_id for s in standings] == [B, A]
    assert [s.rank for s in standings] == [1, 1]


def test_points_sum_each_voters_budget_split() -> None:
    scores = sum_weights([(A, 7), (B, 3), (B, 10), (C, 0)])
    assert [s.idea_id for s in rank(scores, [A, B, C])] == [B, A, C]


def test_schulze_wikipedia_example_45_voters() -> None:
    # The worked example of the Schulze method article: winner E, order E > A > C > B > D.
    ballots = expand(
        [
            (5, [A, C, B, E, D]),
            (5, [A, D, E, C, B]),
            (8, [B, E, D, A, C]),
            (3, [C, A, B, E, D]),
            (7, [C, A, E, B, D]),
            (2, [C, B, A, D, E]),
            (7, [D, C, E, B, A]),
            (8, [E, B, A, D, C]),
        ]
    )
    result = schulze(ballots, [A, B, C, D, E])
    assert result.pairwise[A, B] == 20 and result.pairwise[B, A] == 25
    assert result.strongest[A, B] == 28 and result.strongest[E, D] == 31
    assert [s.idea_id for s in result.standings] == [E, A, C, B, D]
    assert [s.rank for s in result.standings] == [1, 2, 3, 4, 5]


def test_schulze_condorcet_cycle_is_a_tie() -> None:
    # Rock, paper, scissors: every idea beats one and loses to one by the same margin.
    ballots = expand([(1, [A, B, C]), (1, [B, C, A]), (1, [C, A, B])])
    result = schulze(ballots, [A, B, C])
    assert {s.rank for s in result.standings} == {1}
    assert all(s.tied for s in result.standings)


def test_schulze_cycle_broken_by_strongest_path() -> None:
    # A>B 6-3, B>C 7-2, C>A 5-4: a cycle; its weakest link (C>A) loses, so A > B > C.
    ballots = expand([(4, [A, B, C]), (3, [B, C, A]), (2, [C, A, B])])
    result = schulze(ballots, [A, B, C])
    assert (result.pairwise[A, B], result.pairwise[B, A]) == (6, 3)
    assert (result.pairwise[B, C], result.pairwise[C, B]) == (7, 2)
    assert (result.pairwise[C, A], result.pairwise[A, C]) == (5, 4)
    assert result.strongest[A, C] == 6 and result.strongest[C, A] == 5
    assert [s.idea_id for s in result.standings] == [A, B, C]
    assert not any(s.tied for s in result.standings)


def test_truncated_ballots_put_listed_ideas_above_unlisted_ones() -> None:
    d = pairwise_preferences([[C]], [A, B, C])
    assert d[C, A] == 1 and d[C, B] == 1
    assert d[A, B] == 0 and d[B, A] == 0


ideas = st.integers(min_value=1, max_value=8)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(ideas, max_size=5, unique=True), max_size=40))
def test_a_condorcet_winner_always_wins_schulze(ballots: list[list[int]]) -> None:
    candidates = list(range(1, 9))
    result = schulze(ballots, candidates)
    d = result.pairwise
    for c in candidates:
        if all(d[c, o] > d[o, c] for o in candidates if o != c):
            assert result.standings[0].idea_id == c and result.standings[0].rank == 1
            assert not result.standings[0].tied


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(ideas, st.integers(min_value=0, max_value=10)), max_size=200))
def test_scores_are_the_sum_in_any_order_and_ranks_never_increase_with_score(
    votes: list[tuple[int, int]],
) -> None:
    forward, backward = sum_weights(votes), sum_weights(reversed(votes))
    assert forward == backward
    assert sum(forward.values()) == sum(w for _, w in votes)
    standings = rank(forward, range(1, 9))
    for higher, lower in zip(standings, standings[1:], strict=False):
        assert higher.score >= lower.score
        assert (higher.rank == lower.rank) == (higher.score == lower.score)
