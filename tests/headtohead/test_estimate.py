"""The Bradley-Terry estimate: properties (hypothesis) and the cases the model promises."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cocreate.headtohead.estimate import Ties, fit

# A round: n ideas and a list of choices (left, right, left's share) among them.
SHARES = st.sampled_from([0.0, 0.5, 1.0])


@st.composite
def rounds(
    draw: st.DrawFn, min_ideas: int = 2, max_ideas: int = 12
) -> tuple[int, list[tuple[int, int, float]]]:
    n = draw(st.integers(min_ideas, max_ideas))
    pair = st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)).filter(lambda p: p[0] != p[1])
    choices = draw(st.lists(st.tuples(pair, SHARES), max_size=80))
    return n, [(a, b, s) for (a, b), s in choices]


def run(n: int, choices: list[tuple[int, int, float]], **options: object):  # type: ignore[no-untyped-def]
    left = [c[0] for c in choices]
    right = [c[1] for c in choices]
    share = [c[2] for c in choices]
    return fit(n, left, right, share, **options)  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(rounds(min_ideas=2), st.integers(1, 4), st.data())
def test_an_idea_that_always_wins_ranks_first(round_, meetings, data) -> None:  # type: ignore[no-untyped-def]
    """Whatever the others did among themselves, an idea that met every other idea
    `meetings` times, won every one of those choices and took part in at least as many
    choices as any other idea is ranked first, strictly above the rest."""
    n, others = round_
    champion = n  # one more idea
    choices = list(others)
    for other in range(n):
        for _ in range(meetings):
            left_side = data.draw(st.booleans())
            choices.append((champion, other, 1.0) if left_side else (other, champion, 0.0))
    counts = np.bincount([i for c in choices for i in c[:2]], minlength=n + 1)
    extra = int(counts[:n].max() - counts[champion])
    for k in range(max(0, extra)):  # more wins against the others, round robin
        choices.append((champion, k % n, 1.0))
    estimate = run(n + 1, choices)
    assert estimate.order()[0] == champion
    assert estimate.scores[champion] > np.delete(estimate.scores, champion).max()


@settings(max_examples=150, deadline=None)
@given(rounds(), st.randoms(use_true_random=False), st.booleans())
def test_the_ranking_is_stable_under_relabelling_and_sides(round_, rnd, ties_ignored) -> None:  # type: ignore[no-untyped-def]
    """Renaming the ideas, shuffling the choices and swapping sides changes no idea's score
    or interval."""
    n, choices = round_
    options = {"ties": Ties.IGNORE if ties_ignored else Ties.HALF}
    labels = list(range(n))
    rnd.shuffle(labels)
    moved = [
        (labels[b], labels[a], 1.0 - s) if rnd.random() < 0.5 else (labels[a], labels[b], s)
        for a, b, s in choices
    ]
    rnd.shuffle(moved)
    before, after = run(n, choices, **options), run(n, moved, **options)
    np.testing.assert_allclose(after.scores[labels], before.scores, atol=1e-6)
    np.testing.assert_allclose(after.std_errors[labels], before.std_errors, atol=1e-6)
    np.testing.assert_array_equal(after.wins[labels], before.wins)


@settings(max_examples=150, deadline=None)
@given(rounds(max_ideas=8).filter(lambda r: len(r[1]) > 0), st.integers(2, 5), st.booleans())
def test_more_comparisons_shrink_the_interval(round_, times, exact) -> None:  # type: ignore[no-untyped-def]
    """The same choices made `times` times over narrow the interval of every idea with a
    decided choice (ties are left out by default), with the exact inverse Hessian and with
    its diagonal (large rounds)."""
    n, choices = round_
    limit = 10_000 if exact else 0
    once = run(n, choices, exact_limit=limit)
    repeated = run(n, choices * times, exact_limit=limit)
    compared = (once.wins + once.losses) > 0
    assert np.all(repeated.std_errors[compared] < once.std_errors[compared])
    assert np.all(repeated.std_errors <= once.std_errors + 1e-12)


@settings(max_examples=100, deadline=None)
@given(rounds(min_ideas=3))
def test_an_idea_never_compared_is_average_with_the_widest_interval(round_) -> None:  # type: ignore[no-untyped-def]
    n, choices = round_
    estimate = run(n + 1, choices)  # idea n is in no choice
    assert estimate.comparisons[n] == 0
    assert estimate.scores[n] == pytest.approx(0.0, abs=1e-6)  # the average idea
    assert np.all(estimate.std_errors[n] >= estimate.std_errors[:n] - 1e-12)


def test_an_idea_never_compared_sits_at_the_average() -> None:
    estimate = fit(4, [0, 0, 1], [1, 2, 2], [1.0, 1.0, 1.0])
    assert estimate.scores.sum() == pytest.approx(0.0, abs=1e-9)
    assert estimate.scores[3] == pytest.approx(0.0, abs=1e-9)  # the centred average
    assert estimate.comparisons.tolist() == [2, 2, 2, 0]


def test_always_winning_and_always_losing_ideas_get_finite_scores() -> None:
    # 0 beats everyone, 2 loses to everyone: the maximum likelihood would be ±infinity.
    estimate = fit(3, [0, 0, 1] * 20, [1, 2, 2] * 20, [1.0, 1.0, 1.0] * 20)
    assert np.all(np.isfinite(estimate.scores))
    assert estimate.order().tolist() == [0, 1, 2]
    assert estimate.wins.tolist() == [40, 20, 0]
    assert estimate.losses.tolist() == [0, 20, 40]


def test_ties_are_ignored_by_default_or_pull_two_scores_together() -> None:
    decided = fit(2, [0, 0, 0], [1, 1, 1], [1.0, 1.0, 1.0])
    ignored = fit(2, [0, 0, 0, 0], [1, 1, 1, 1], [1.0, 1.0, 1.0, 0.5])  # the default
    halved = fit(2, [0, 0, 0, 0], [1, 1, 1, 1], [1.0, 1.0, 1.0, 0.5], ties=Ties.HALF)
    gap = lambda e: e.scores[0] - e.scores[1]  # noqa: E731
    assert gap(ignored) == pytest.approx(gap(decided))
    assert ignored.std_errors[0] == pytest.approx(decided.std_errors[0])
    assert 0 < gap(halved) < gap(decided)
    # Half a win each is information too: the tie narrows the interval.
    assert halved.std_errors[0] < decided.std_errors[0]
    assert halved.ties.tolist() == [1, 1] and ignored.ties.tolist() == [1, 1]
    assert ignored.comparisons.tolist() == [4, 4]


def test_ties_only_leave_the_ideas_equal() -> None:
    estimate = fit(3, [0, 1], [1, 2], [0.5, 0.5], ties=Ties.HALF)
    np.testing.assert_allclose(estimate.scores, 0.0, atol=1e-12)


def test_scores_recover_true_strengths_and_intervals_cover_them() -> None:
    """Choices simulated from known strengths: the order is recovered, and about 95 % of the
    95 % intervals hold the true (centred) strength."""
    rng = np.random.default_rng(7)
    n, m = 300, 30_000
    true = rng.normal(0.0, 1.0, n)
    left = rng.integers(0, n, m)
    right = (left + rng.integers(1, n, m)) % n
    p = 1.0 / (1.0 + np.exp(true[right] - true[left]))
    share = (rng.random(m) < p).astype(float)
    estimate = fit(n, left, right, share)
    ranks = lambda x: np.argsort(np.argsort(x))  # noqa: E731
    assert np.corrcoef(ranks(estimate.scores), ranks(true))[0, 1] > 0.95
    low, high = estimate.interval()
    centred = true - true.mean()
    coverage = np.mean((low <= centred) & (centred <= high))
    assert 0.9 <= coverage <= 0.99
    # The diagonal interval of large rounds is within 10 % of the exact one here.
    approx = fit(n, left, right, share, exact_limit=0)
    np.testing.assert_allclose(approx.scores, estimate.scores, atol=1e-6)
    np.testing.assert_allclose(approx.std_errors, estimate.std_errors, rtol=0.1)


def test_win_chance_matches_its_definition_on_large_and_small_rounds() -> None:
    rng = np.random.default_rng(3)
    for n in (50, 3000):  # exact below 2,000 ideas, a binned curve above
        m = n * 20
        left = rng.integers(0, n, m)
        right = (left + rng.integers(1, n, m)) % n
        share = rng.choice([0.0, 1.0], m)
        estimate = fit(n, left, right, share)
        chance, low, high = estimate.win_chance()
        s = estimate.scores
        some = rng.choice(n, 20, replace=False)
        for i in some:
            expected = np.mean(1.0 / (1.0 + np.exp(np.delete(s, i) - s[i])))
            assert chance[i] == pytest.approx(expected, abs=1e-3)
        assert np.all((low <= chance) & (chance <= high))
        assert np.all((chance > 0) & (chance < 1))


@pytest.mark.parametrize(
    ("left", "right", "share", "message"),
    [
        ([0], [0], [1.0], "itself"),
        ([0], [3], [1.0], "outside"),
        ([0], [1], [0.7], "0, 0.5 or 1"),
        ([0, 1], [1], [1.0], "one length"),
    ],
)
def test_bad_input_is_refused(left, right, share, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=message):
        fit(3, left, right, share)


def test_no_choices_and_no_ideas() -> None:
    empty = fit(0, [], [], [])
    assert len(empty.scores) == 0
    none = fit(3, [], [], [])
    np.testing.assert_allclose(none.scores, 0.0)
    np.testing.assert_allclose(none.std_errors, none.std_errors[0])
