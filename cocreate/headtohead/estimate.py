"""The ranking of a head-to-head round: a Bradley-Terry estimate with an interval per idea.

Model. Idea i has a log-strength θ_i; the chance that a voter picks i over j is
σ(θ_i - θ_j) = 1 / (1 + exp(θ_j - θ_i)) (Bradley & Terry 1952). A "can't decide" is counted
per idea but left out of the likelihood by default (`Ties.IGNORE`), as All Our Ideas treats
its "I can't decide": it may say the two are close, or that the voter knows neither, and a
voter who clicks it at random would otherwise pull every score towards the average (on the
benchmark's choices, one in twenty a tie at random, half wins flattened the scores and the
intervals held the truth 90 % of the time instead of 93 %). `Ties.HALF` counts it as half a
win for each idea instead: the pair's scores are pulled together and the tie adds half the
information of a decided choice; its likelihood, √(p·(1-p)), is Davidson's (1970) tie term
without its free parameter.

Prior. θ_i ~ Normal(0, prior_sd²), independently: the estimate is the posterior mode (a
ridge-penalised logistic regression on the pairs). The prior gives an idea never compared the
score of an average idea (0) with the prior's interval, keeps an idea that always wins (or
always loses) finite, and makes a winner out of many wins rather than two lucky ones. With
the prior the scores sum to zero at the mode, so they are centred without a constraint.

Solver. Choices are first summed per unordered pair (one sort). Newton's method on the log
posterior, each step solved by conjugate gradients preconditioned by the Hessian's diagonal:
the Hessian is a weighted graph Laplacian plus the prior's λ·I, and one product with it is
two gathers and two `bincount`s over the pairs, so 10 million choices over 100,000 ideas fit
in memory as a few arrays and a step costs seconds, not the n×n matrix a generic solver (or
the `choix` package's ILSR, which builds one) would need. Steps are damped by a backtracking
line search on the log posterior, which is concave, so the mode is unique and is found.

Interval. The Laplace approximation: the posterior covariance is the inverse Hessian at the
mode. The interval is of the centred score (θ_i - mean θ, which is what the ranking
compares): exact from the inverse Hessian when there are at most `exact_limit` ideas; above
that, 1 / (the Hessian's diagonal), the variance of θ_i with the other scores known, which for
a large round is close to the centred variance and never needs the n×n inverse.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Z95 = 1.959963984540054  # a two-sided 95 % interval
DEFAULT_PRIOR_SD = 1.0  # 95 % of ideas within ±2 of the average: the best beats the worst ~98 %
EXACT_LIMIT = 1500  # ideas up to which the interval comes from the full inverse Hessian
WIN_CHANCE_GRID = 4096  # grid points of the "chance to beat a random idea" curve, large rounds

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]


class Ties(enum.StrEnum):
    HALF = "half"  # half a win each
    IGNORE = "ignore"  # left out of the likelihood


DEFAULT_TIES = Ties.IGNORE


@dataclass(frozen=True)
class Estimate:
    """Scores (centred log-strengths) and standard errors, per idea index 0..n-1."""

    scores: Floats
    std_errors: Floats
    comparisons: Ints  # counted choices the idea took part in (ties included)
    wins: Ints
    losses: Ints
    ties: Ints
    newton_steps: int
    exact_errors: bool  # True: from the full inverse Hessian; False: its diagonal

    def interval(self, z: float = Z95) -> tuple[Floats, Floats]:
        """(low, high) of each score, a `z`-sigma interval (95 % by default)."""
        return self.scores - z * self.std_errors, self.scores + z * self.std_errors

    def order(self) -> Ints:
        """Idea indices, best first; equal scores by index."""
        n = len(self.scores)
        return np.lexsort((np.arange(n), -self.scores)).astype(np.int64)

    def positions(self) -> Ints:
        """1-based position of each idea in `order()`."""
        positions = np.empty(len(self.scores), dtype=np.int64)
        positions[self.order()] = np.arange(1, len(self.scores) + 1)
        return positions

    def win_chance(self, z: float = Z95) -> tuple[Floats, Floats, Floats]:
        """(chance, low, high): the estimated chance that each idea is picked over another idea
        of the round drawn at random, in 0..1, as All Our Ideas shows its scores; low and high
        are the chance at the ends of the score's interval (the other ideas held fixed)."""
        low, high = self.interval(z)
        beat = _win_chance_curve(self.scores)
        return beat(self.scores), beat(low), beat(high)


def share_of(outcome: str) -> float:
    """The left idea's share of one choice: 1 picked, 0 not, 0.5 "can't decide"."""
    return {"left": 1.0, "right": 0.0, "tie": 0.5}[outcome]


def fit(
    n_items: int,
    left: Sequence[int] | NDArray[np.integer],
    right: Sequence[int] | NDArray[np.integer],
    left_share: Sequence[float] | NDArray[np.floating],
    *,
    prior_sd: float = DEFAULT_PRIOR_SD,
    ties: Ties = DEFAULT_TIES,
    tol: float = 1e-6,
    max_newton: int = 100,
    exact_limit: int = EXACT_LIMIT,
) -> Estimate:
    """The Bradley-Terry posterior mode of `n_items` ideas from counted choices.

    `left[k]` and `right[k]` are the indices (0..n_items-1) of choice k's ideas, `left_share[k]`
    the left idea's share: 1.0 (picked), 0.0 (the right one was) or 0.5 (can't decide).
    """
    if n_items < 0 or prior_sd <= 0 or not math.isfinite(prior_sd):
        raise ValueError("n_items must be >= 0 and prior_sd a positive number")
    lefts = np.asarray(left, dtype=np.int64)
    rights = np.asarray(right, dtype=np.int64)
    shares = np.asarray(left_share, dtype=np.float64)
    if not lefts.shape == rights.shape == shares.shape or lefts.ndim != 1:
        raise ValueError("left, right and left_share must be 1-d arrays of one length")
    if len(lefts) and (
        min(lefts.min(), rights.min()) < 0 or max(lefts.max(), rights.max()) >= n_items
    ):
        raise ValueError("an idea index is outside 0..n_items-1")
    if np.any(lefts == rights):
        raise ValueError("an idea cannot be compared with itself")
    if not np.all((shares == 0.0) | (shares == 0.5) | (shares == 1.0)):
        raise ValueError("left_share must be 0, 0.5 or 1")

    tie = shares == 0.5
    comparisons = _count(lefts, n_items) + _count(rights, n_items)
    wins = _count(lefts[shares == 1.0], n_items) + _count(rights[shares == 0.0], n_items)
    losses = _count(lefts[shares == 0.0], n_items) + _count(rights[shares == 1.0], n_items)
    tie_counts = _count(lefts[tie], n_items) + _count(rights[tie], n_items)
    if ties == Ties.IGNORE:
        lefts, rights, shares = lefts[~tie], rights[~tie], shares[~tie]

    lo, hi, played, lo_wins = _pairs(n_items, lefts, rights, shares)
    del lefts, rights, shares
    precision = 1.0 / prior_sd**2
    theta, steps = _mode(n_items, lo, hi, played, lo_wins, precision, tol, max_newton)

    p = _sigmoid(theta[lo] - theta[hi])
    weight = played * p * (1.0 - p)
    if n_items <= exact_limit:
        variances = _centred_variances(n_items, lo, hi, weight, precision)
    else:
        variances = 1.0 / (_sum(lo, n_items, weight) + _sum(hi, n_items, weight) + precision)
    return Estimate(
        scores=theta - theta.mean() if n_items else theta,
        std_errors=np.sqrt(variances),
        comparisons=comparisons,
        wins=wins,
        losses=losses,
        ties=tie_counts,
        newton_steps=steps,
        exact_errors=n_items <= exact_limit,
    )


def _count(index: Ints, n: int) -> Ints:
    return np.bincount(index, minlength=n).astype(np.int64)


def _sum(index: Ints, n: int, weights: Floats) -> Floats:
    return np.asarray(np.bincount(index, weights=weights, minlength=n), dtype=np.float64)


def _sigmoid(x: Floats) -> Floats:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * x)), dtype=np.float64)  # no overflow


def _pairs(n: int, lefts: Ints, rights: Ints, shares: Floats) -> tuple[Ints, Ints, Floats, Floats]:
    """Choices summed per unordered pair: (lower index, higher index, choices, lower's wins)."""
    lo = np.minimum(lefts, rights)
    hi = np.maximum(lefts, rights)
    lo_share = np.where(lefts == lo, shares, 1.0 - shares)
    keys, inverse = np.unique(lo * n + hi, return_inverse=True)
    keys = keys.astype(np.int64)
    played = np.bincount(inverse).astype(np.float64)
    lo_wins = np.asarray(np.bincount(inverse, weights=lo_share), dtype=np.float64)
    if n == 0:
        return keys, keys, played, lo_wins
    return keys // n, keys % n, played, lo_wins


def _log_posterior(
    theta: Floats, lo: Ints, hi: Ints, played: Floats, lo_wins: Floats, precision: float
) -> float:
    d = theta[lo] - theta[hi]
    # w·log σ(d) + (n - w)·log σ(-d), with log σ(x) = -log(1 + e^-x) computed stably
    loglik = -(lo_wins * np.logaddexp(0.0, -d) + (played - lo_wins) * np.logaddexp(0.0, d))
    return float(loglik.sum() - 0.5 * precision * float(theta @ theta))


def _mode(
    n: int,
    lo: Ints,
    hi: Ints,
    played: Floats,
    lo_wins: Floats,
    precision: float,
    tol: float,
    max_newton: int,
) -> tuple[Floats, int]:
    theta = np.zeros(n)
    if n == 0:
        return theta, 0
    value = _log_posterior(theta, lo, hi, played, lo_wins, precision)
    first_norm = 0.0
    for step in range(1, max_newton + 1):
        p = _sigmoid(theta[lo] - theta[hi])
        residual = lo_wins - played * p
        gradient = _sum(lo, n, residual) - _sum(hi, n, residual) - precision * theta
        weight = played * p * (1.0 - p)
        diagonal = _sum(lo, n, weight) + _sum(hi, n, weight) + precision
        norm = float(np.linalg.norm(gradient))
        first_norm = first_norm or norm
        if norm == 0.0:
            return theta, step - 1

        def hessian(x: Floats, weight: Floats = weight) -> Floats:
            flow = weight * (x[lo] - x[hi])
            return np.asarray(_sum(lo, n, flow) - _sum(hi, n, flow) + precision * x)

        # Inexact Newton: a loose solve far from the mode, tighter as the gradient shrinks.
        rtol = min(0.1, max(1e-10, math.sqrt(norm / first_norm) * 0.1))
        direction = _conjugate_gradient(hessian, gradient, diagonal, rtol, maxiter=500)
        slope = float(gradient @ direction)
        scale = 1.0
        while True:  # backtracking (Armijo); the full step is almost always taken
            candidate = theta + scale * direction
            new_value = _log_posterior(candidate, lo, hi, played, lo_wins, precision)
            if new_value >= value + 1e-4 * scale * slope or scale < 1e-8:
                break
            scale *= 0.5
        theta, value = candidate, new_value
        if scale * float(np.max(np.abs(direction))) < tol:
            return theta, step
    return theta, max_newton


def _conjugate_gradient(
    matvec: Callable[[Floats], Floats], b: Floats, diagonal: Floats, rtol: float, maxiter: int
) -> Floats:
    """Solves A x = b for a symmetric positive definite A, Jacobi-preconditioned."""
    x = np.zeros_like(b)
    r = b.copy()
    z = r / diagonal
    direction = z.copy()
    rz = float(r @ z)
    target = rtol * float(np.linalg.norm(b))
    for _ in range(maxiter):
        ad = matvec(direction)
        alpha = rz / float(direction @ ad)
        x += alpha * direction
        r -= alpha * ad
        if float(np.linalg.norm(r)) <= target:
            break
        z = r / diagonal
        rz_next = float(r @ z)
        direction = z + (rz_next / rz) * direction
        rz = rz_next
    return x


def _centred_variances(
    n: int, lo: Ints, hi: Ints, weight: Floats, precision: float
) -> NDArray[np.float64]:
    """Var(θ_i - mean θ) from the full inverse Hessian (small rounds)."""
    if n == 0:
        return np.zeros(0)
    hessian = np.diag(_sum(lo, n, weight) + _sum(hi, n, weight) + precision)
    np.add.at(hessian, (lo, hi), -weight)
    np.add.at(hessian, (hi, lo), -weight)
    cov = np.linalg.inv(hessian)
    row_means = cov.mean(axis=1)
    variances = np.diag(cov) - 2.0 * row_means + float(cov.mean())
    return np.asarray(np.maximum(variances, 0.0), dtype=np.float64)


def _win_chance_curve(scores: Floats) -> Callable[[Floats], Floats]:
    """t -> mean over the other ideas j of σ(t - θ_j), for t among the ideas' own scores
    (the idea itself, σ(0) = 0.5, is taken out). Exact for small rounds; for large ones the
    scores are binned on a fine grid and the curve interpolated (the curve is smooth)."""
    n = len(scores)
    if n < 2:
        return lambda t: np.full_like(t, 0.5)
    if n <= 2000:

        def exact(t: Floats) -> Floats:
            total = _sigmoid(t[:, None] - scores[None, :]).sum(axis=1)
            return np.asarray((total - 0.5) / (n - 1))

        return exact
    lowest, highest = float(scores.min()) - 20.0, float(scores.max()) + 20.0
    edges = np.linspace(lowest, highest, WIN_CHANCE_GRID + 1, dtype=np.float64)
    centres = 0.5 * (edges[:-1] + edges[1:])
    counts = np.histogram(scores, bins=edges)[0].astype(np.float64)
    spacing = float(centres[1] - centres[0])
    # curve[a] = sum over b of counts[b]·σ((a - b)·spacing): one convolution, no grid² matrix
    steps = np.arange(-(WIN_CHANCE_GRID - 1), WIN_CHANCE_GRID, dtype=np.float64)
    kernel = _sigmoid(steps * spacing)
    curve = np.convolve(counts, kernel)[WIN_CHANCE_GRID - 1 : 2 * WIN_CHANCE_GRID - 1]

    def binned(t: Floats) -> Floats:
        total = np.interp(t, centres, curve)
        return np.asarray((total - 0.5) / (n - 1))

    return binned
