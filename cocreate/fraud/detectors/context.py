"""What every detector shares: the thresholds (`ScanConfig`), the Poisson surprise and the
score made of it, and the log with dense indices (`Context`)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from cocreate.fraud.log import (
    MISSING,
    Accounts,
    BoolArray,
    Float64Array,
    Int64Array,
    VoteLog,
)


@dataclass(frozen=True)
class ScanConfig:
    """Thresholds of the detectors; the defaults are tuned on the benchmark (seeds 1, 4-7)."""

    # Bursts: window lengths (seconds) scanned for every idea.
    burst_windows: tuple[float, ...] = (900.0, 3600.0, 4 * 3600.0)
    burst_min_votes: int = 15  # an episode window holds at least this many votes
    burst_min_ratio: float = 3.0  # ... at least this many times the expected count
    burst_min_surprise: float = 25.0  # ... and this unlikely (nats)
    burst_prior_votes: float = 1.0  # pseudo-votes of an idea without history
    burst_min_cluster: int = 5  # votes of one prefix/device in an episode to flag them
    burst_cluster_surprise: float = 20.0
    # ... and at least this share of their accounts is new, single-use or confined to them.
    burst_min_fresh: float = 0.7
    burst_young_account: float = 2 * 86400.0
    burst_single_use_margin: float = 86400.0
    # Rings: a member's votes for the ring's ideas lie within this of each idea's centre.
    # 1.5 h (was 1 h): a ring paced by hand over an evening, minutes between votes, spreads
    # past an hour; chosen on seeds 4-7 of the benchmark (ring F1 0.86-0.91 -> 0.95-0.98, one
    # more false finding on one seed of four), 2 h gained nothing more.
    ring_window: float = 5400.0
    ring_min_accounts: int = 10  # common voters of two episodes; members of a ring
    ring_min_lift: float = 10.0  # common voters / the count independence predicts
    ring_min_surprise: float = 30.0
    ring_member_surprise: float = 5.0  # a member's coverage of the ring's ideas vs chance
    # Sockpuppets.
    sock_min_accounts: int = 8  # accounts in a cluster
    sock_min_token_accounts: int = 3  # an idea's voters holding one signal
    sock_token_surprise: float = 14.0
    sock_min_ratio: float = 3.0  # ... and at least this many times the expected count
    sock_signup_window: float = 3 * 3600.0
    sock_max_token_accounts: int = 2000  # signals held by more accounts carry no evidence
    sock_pushed_share: float = 0.5  # a pushed idea has half the backers of the most pushed one
    # Findings sharing at least this share of the smaller one's accounts become one.
    merge_overlap: float = 0.5
    # Scores: 1 - exp(-surprise / score_scale).
    score_scale: float = 20.0


def poisson_surprise(n: Any, lam: Any) -> Any:
    """Chernoff bound of the Poisson upper tail in nats (0 where n <= lam); arrays or scalars."""
    n_arr = np.asarray(n, dtype=np.float64)
    lam_arr = np.maximum(np.asarray(lam, dtype=np.float64), 1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = n_arr * np.log(np.maximum(n_arr, 1e-12) / lam_arr) - n_arr + lam_arr
    return np.where(n_arr > lam_arr, value, 0.0)


def score_of(surprise: float, cfg: ScanConfig) -> float:
    return round(1.0 - math.exp(-max(surprise, 0.0) / cfg.score_scale), 4)


def id_set(values: Iterable[Any]) -> frozenset[int]:
    return frozenset(int(v) for v in values)


@dataclass(frozen=True)
class Context:
    """The log with dense indices: votes point at account rows, ideas are 0..n_ideas-1."""

    log: VoteLog
    acc: Int64Array  # per vote: account row
    idea: Int64Array  # per vote: dense idea index
    idea_ids: Int64Array  # dense idea index -> ideas.id
    user_ids: Int64Array  # account row -> users.id
    created_at: Float64Array
    mailbox: Int64Array
    pattern: Int64Array
    domain: Int64Array
    disposable: BoolArray
    by_account_start: Int64Array  # votes of account a: by_account[start[a]:start[a + 1]]
    by_account: Int64Array

    @property
    def n_accounts(self) -> int:
        return int(self.user_ids.shape[0])

    @property
    def n_ideas(self) -> int:
        return int(self.idea_ids.shape[0])

    @staticmethod
    def build(log: VoteLog, accounts: Accounts) -> Context:
        user_ids = np.union1d(accounts.user_id, log.voter).astype(np.int64)
        n = user_ids.shape[0]
        rows = np.searchsorted(user_ids, accounts.user_id)

        def spread(values: Any, fill: Any, dtype: Any) -> Any:
            out = np.full(n, fill, dtype=dtype)
            out[rows] = values
            return out

        pattern = accounts.mailbox_pattern
        acc = np.searchsorted(user_ids, log.voter).astype(np.int64)
        idea_ids, idea = np.unique(log.idea, return_inverse=True)
        by_account = np.argsort(acc, kind="stable").astype(np.int64)
        start = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(acc, minlength=n), out=start[1:])
        return Context(
            log=log,
            acc=acc,
            idea=idea.astype(np.int64),
            idea_ids=idea_ids.astype(np.int64),
            user_ids=user_ids,
            created_at=spread(accounts.created_at, np.nan, np.float64),
            mailbox=spread(accounts.mailbox, MISSING, np.int64),
            pattern=spread(pattern if pattern is not None else MISSING, MISSING, np.int64),
            domain=spread(accounts.email_domain, MISSING, np.int64),
            disposable=spread(accounts.disposable, False, np.bool_),
            by_account_start=start,
            by_account=by_account,
        )

    def votes_of(self, rows: Iterable[int]) -> Int64Array:
        """Vote indices of the given account rows."""
        parts = [
            self.by_account[self.by_account_start[r] : self.by_account_start[r + 1]] for r in rows
        ]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def vote_ids(self, votes: Int64Array) -> frozenset[int]:
        return id_set(self.log.vote_id[votes])

    def voter_ids(self, rows: Iterable[int]) -> frozenset[int]:
        return id_set(self.user_ids[np.asarray(list(rows), dtype=np.int64)])


def merge_sets(groups: list[tuple[set[int], set[int]]]) -> list[tuple[set[int], set[int]]]:
    """Union of the groups that share a member."""
    parent = list(range(len(groups)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    owner: dict[int, int] = {}
    for g, (members, _) in enumerate(groups):
        for m in members:
            if m in owner:
                parent[find(g)] = find(owner[m])
            else:
                owner[m] = g
    out: dict[int, tuple[set[int], set[int]]] = {}
    for g, (members, keys) in enumerate(groups):
        root = find(g)
        if root not in out:
            out[root] = (set(), set())
        out[root][0].update(members)
        out[root][1].update(keys)
    return list(out.values())
