"""The round tally and the advancement rules, as pure functions, against hand-worked cases."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cocreate.results.tally import advancing, tally_votes
from cocreate.voting.methods import Method, schulze
from cocreate.voting.models import Advancement, TieBreak

A, B, C, D, E = 1, 2, 3, 4, 5
SUBMITTED = {A: (50.0, A), B: (40.0, B), C: (30.0, C), D: (20.0, D), E: (10.0, E)}  # E first


def earlier(idea: int) -> tuple[object, ...]:
    return SUBMITTED[idea]


def approvals(*pairs: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """(voter, idea) -> (voter, idea, period 0, weight 1)."""
    return [(voter, idea, 0, 1) for voter, idea in pairs]


def ranked(voter: int, order: list[int], period: int = 0) -> list[tuple[int, int, int, int]]:
    return [(voter, idea, period, rank) for rank, idea in enumerate(order, start=1)]


def order_of(tally: object) -> list[tuple[int, int, int, bool]]:
    return [(s.idea_id, s.score, s.rank, s.tied) for s in tally.standings]  # type: ignore[attr-defined]


def test_approval_counts_votes_and_entrants_without_votes_come_last() -> None:
    tally = tally_votes(
        Method.APPROVAL, approvals((1, A), (1, B), (2, A), (3, C)), [A, B, C, D], tie_break=earlier
    )
    assert order_of(tally) == [(A, 2, 1, False), (C, 1, 2, True), (B, 1, 2, True), (D, 0, 4, False)]
    assert tally.votes == {A: 2, B: 1, C: 1}


def test_a_jury_tie_break_leaves_the_tie_in_id_order_and_flagged() -> None:
    tally = tally_votes(Method.SINGLE, approvals((1, C), (2, B)), [B, C], tie_break=None)
    assert order_of(tally) == [(B, 1, 1, True), (C, 1, 1, True)]


def test_points_are_summed_and_voters_counted() -> None:
    votes = [(1, A, 0, 7), (1, B, 0, 3), (2, B, 0, 10), (3, C, 0, 4)]
    tally = tally_votes(Method.POINTS, votes, [A, B, C])
    assert order_of(tally) == [(B, 13, 1, False), (A, 7, 2, False), (C, 4, 3, False)]
    assert tally.votes == {A: 1, B: 2, C: 1}


def test_ranked_hand_worked_cycle_is_resolved_by_strongest_paths() -> None:
    # 4 voters A>B>C, 3 voters B>C>A, 2 voters C>A>B. Pairwise A>B 6:3, B>C 7:2, C>A 5:4:
    # a cycle. Strongest paths: A->B 6, A->C min(6,7)=6, B->C 7, B->A min(7,5)=5,
    # C->A 5, C->B min(5,6)=5. A beats B (6>5) and C (6>5), B beats C (7>5): A, B, C.
    votes = []
    voter = 0
    for count, order in ((4, [A, B, C]), (3, [B, C, A]), (2, [C, A, B])):
        for _ in range(count):
            voter += 1
            votes += ranked(voter, order)
    tally = tally_votes(Method.RANKED, votes, [A, B, C])
    assert tally.schulze is not None
    assert tally.schulze.pairwise[A, B] == 6 and tally.schulze.pairwise[C, A] == 5
    assert tally.schulze.strongest[B, A] == 5 and tally.schulze.strongest[A, C] == 6
    assert order_of(tally) == [(A, 2, 1, False), (B, 1, 2, False), (C, 0, 3, False)]


def test_ranked_perfect_cycle_is_a_three_way_tie() -> None:
    votes = ranked(1, [A, B, C]) + ranked(2, [B, C, A]) + ranked(3, [C, A, B])
    tally = tally_votes(Method.RANKED, votes, [A, B, C])
    assert {s.rank for s in tally.standings} == {1}
    assert all(s.tied for s in tally.standings)
    broken = tally_votes(Method.RANKED, votes, [A, B, C], tie_break=earlier)
    assert [s.idea_id for s in broken.standings] == [C, B, A]  # C was submitted first


def test_ranked_ballots_are_grouped_by_voter_and_period_and_ordered_by_rank() -> None:
    # The rows arrive in any order; weight is the rank. Voter 1 votes on two days: two ballots.
    votes = [(1, B, 7, 2), (1, A, 7, 1), (1, B, 8, 1), (1, A, 8, 2), (2, B, 0, 1)]
    tally = tally_votes(Method.RANKED, votes, [A, B])
    assert tally.schulze is not None
    assert tally.schulze.pairwise[A, B] == 1 and tally.schulze.pairwise[B, A] == 2
    assert [s.idea_id for s in tally.standings] == [B, A]


def test_ranked_entrants_on_no_ballot_lose_to_every_listed_idea() -> None:
    tally = tally_votes(Method.RANKED, ranked(1, [B, A]), [A, B, C, D], tie_break=earlier)
    assert order_of(tally) == [(B, 3, 1, False), (A, 2, 2, False), (D, 0, 3, True), (C, 0, 3, True)]


ballots = st.lists(
    st.lists(st.sampled_from([A, B, C, D, E]), min_size=1, max_size=4, unique=True),
    max_size=25,
)


@settings(max_examples=200, deadline=None)
@given(ballots=ballots)
def test_schulze_on_listed_ideas_only_equals_schulze_on_every_entrant(
    ballots: list[list[int]],
) -> None:
    votes = [row for n, ballot in enumerate(ballots) for row in ranked(n, ballot)]
    fast = tally_votes(Method.RANKED, votes, [A, B, C, D, E], tie_break=earlier)
    full = schulze(ballots, [A, B, C, D, E], tie_break=earlier)
    assert [(s.idea_id, s.score, s.rank, s.tied) for s in fast.standings] == [
        (s.idea_id, s.score, s.rank, s.tied) for s in full.standings
    ]


# --- Advancement ---------------------------------------------------------------------------


def standings_of(scores: dict[int, int], tie_break: str = TieBreak.EARLIER_SUBMISSION) -> list:  # type: ignore[type-arg]
    votes = [(n, idea, 0, 1) for idea, count in scores.items() for n in range(count)]
    key = earlier if tie_break == TieBreak.EARLIER_SUBMISSION else None
    return tally_votes(Method.APPROVAL, votes, list(scores), tie_break=key).standings


def go(
    scores: dict[int, int], rule: str, value: int, tie_break: str, eligible: set[int] | None = None
) -> tuple[dict[int, bool | None], int]:  # noqa: E501
    found = advancing(
        standings_of(scores, tie_break),
        rule=rule,
        value=value,
        tie_break=tie_break,
        votes=scores,
        eligible=eligible if eligible is not None else set(scores),
    )
    return found.decision, found.seats


def test_top_n_without_a_tie_at_the_cut() -> None:
    decision, seats = go({A: 5, B: 4, C: 3}, Advancement.TOP_N, 2, TieBreak.JURY)
    assert decision == {A: True, B: True, C: False} and seats == 2


def test_top_n_tie_at_the_cut_goes_to_the_earlier_submission() -> None:
    decision, seats = go(
        {A: 5, B: 3, C: 3, D: 1}, Advancement.TOP_N, 2, TieBreak.EARLIER_SUBMISSION
    )
    assert decision == {A: True, C: True, B: False, D: False}  # C was submitted before B
    assert seats == 2


def test_top_n_tie_at_the_cut_is_left_to_the_jury() -> None:
    decision, seats = go({A: 5, B: 3, C: 3, D: 3, E: 1}, Advancement.TOP_N, 2, TieBreak.JURY)
    assert decision == {A: True, B: None, C: None, D: None, E: False}
    assert seats == 2  # so the jury picks 1 of B, C, D


def test_a_tie_above_the_cut_needs_no_decision() -> None:
    decision, _ = go({A: 5, B: 5, C: 3}, Advancement.TOP_N, 2, TieBreak.JURY)
    assert decision == {A: True, B: True, C: False}


def test_top_percent_rounds_the_number_of_seats_up() -> None:
    decision, seats = go({A: 5, B: 4, C: 3, D: 2, E: 1}, Advancement.TOP_PERCENT, 30, TieBreak.JURY)
    assert seats == 2 and [i for i, v in decision.items() if v] == [A, B]


def test_min_votes_takes_every_idea_with_enough_votes_ties_included() -> None:
    decision, seats = go({A: 5, B: 3, C: 3, D: 2}, Advancement.MIN_VOTES, 3, TieBreak.JURY)
    assert decision == {A: True, B: True, C: True, D: False} and seats == 3


def test_a_jury_rule_leaves_every_idea_to_the_jury_unless_all_fit() -> None:
    decision, seats = go({A: 5, B: 3, C: 1}, Advancement.JURY, 2, TieBreak.EARLIER_SUBMISSION)
    assert set(decision.values()) == {None} and seats == 2
    decision, seats = go({A: 5, B: 3}, Advancement.JURY, 2, TieBreak.EARLIER_SUBMISSION)
    assert decision == {A: True, B: True} and seats == 2


def test_ideas_no_longer_entrants_never_go_on_and_free_their_seat() -> None:
    decision, _ = go({A: 5, B: 4, C: 3}, Advancement.TOP_N, 2, TieBreak.JURY, eligible={A, C})
    assert decision == {A: True, B: False, C: True}


def test_more_seats_than_ideas_takes_them_all() -> None:
    decision, seats = go({A: 1, B: 0}, Advancement.TOP_N, 10, TieBreak.JURY)
    assert decision == {A: True, B: True} and seats == 2
