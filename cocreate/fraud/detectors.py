"""Layer 2 detectors: lockstep rings, sockpuppet clusters and bursts in one round's vote log.

Pure functions over the columnar `VoteLog` and `Accounts` (see `log.py`): no database, no
clock. `scan` runs every detector and returns the findings, merged so that one account sits in
one finding, sorted by score (highest first).

Statistics. Every test asks one question: is a count far above what the rest of the log
predicts? Counts are compared with a Poisson expectation `lam` through the Chernoff bound of
the upper tail, `surprise = n ln(n / lam) - n + lam` nats (P[X >= n] <= exp(-surprise)). A
baseline from the log itself makes popular ideas, busy hours and big shared networks count
for little, which is what defeats camouflage (the idea FRAUDAR gets from its column weights
1 / log(degree + c)): a vote for a popular idea, a share of a mobile carrier's CGNAT prefix or
a vote in the evening peak is expected and carries no evidence.

- Bursts (`_episodes`, `_bursts`): for every vote, the idea's votes in the window that starts
  there (15 min, 1 h, 4 h) are compared with `lam` = the idea's votes outside that window
  times the share of the whole log's votes that fall inside it (the daily rhythm is in the
  log, so the evening peak predicts more votes than 4 a.m.). Windows far above `lam` merge
  into episodes. An episode alone is not fraud (an idea shared on social media gets honest
  bursts); the burst finding flags only the episode's votes that come from an IP prefix or a
  device far over-represented in the episode compared with its share of the whole log, when
  most of their accounts are new, used for nothing else, or never seen off that network.
- Lockstep rings (`_rings`, CopyCatch's idea): accounts that share several episodes of
  different ideas, i.e. voted for the same ideas each within a short window around a common
  per-idea centre. Two episodes are linked when their common voters are far more than
  independence predicts (`|A| |B| / active voters`); members are the accounts in linked
  episodes of at least two different ideas. Camouflage votes on popular ideas do not hide a
  member: membership never looks at the member's other votes.
- Sockpuppets (`_sockpuppets`): for every (idea, shared signal) pair, the idea's voters
  holding the signal (a device, a canonical mailbox, a mailbox pattern, an email domain, an
  IP prefix, a sign-up window) against `lam` = the holders weighed by how many ideas each
  voted for, times the idea's share of all (voter, idea) pairs. A CGNAT prefix of hundreds of
  honest voters predicts several voters for any popular idea, so it is not flagged. An account
  joins the cluster when it holds a flagged identity signal (device, mailbox, pattern) or
  flagged network/timing signals of two kinds; clusters are the connected components through
  flagged signals, of at least `sock_min_accounts` accounts.

Which votes a finding covers. Ring and sockpuppet findings cover every live vote of their
accounts in the round, camouflage included: the evidence is about the accounts (they were
made or bought to cheat), so a decision voids them all; their `idea_ids` are only the pushed
ideas. A burst finding covers the concentrated votes of the episode and, of the accounts'
other votes, only those of accounts never seen off the burst's network and devices (a
script's, warmed up from its server): a shared network in a burst can be a class voting
together, whose members' other votes are not in question. The benchmark
(`benchmarks/fraud`) counts fraudulent votes the same way: every vote of an attack account
(the burst's scripted accounts are confined to its /24).

Merging, one account in one finding: best score first, a finding that shares at least half
of the smaller one's accounts with an earlier one joins it (kind of its best part, score
`1 - prod(1 - s)`, the parts under `evidence["parts"]`); otherwise it keeps only the accounts
no earlier finding holds, and their votes.

Evidence (JSON-ready; signals are codes, which the caller maps back to hashes and mailboxes):
`reason` (machine-readable), `accounts`, `votes`, `ideas` (per pushed idea: votes by the
group), `windows` (idea, start, end, votes, expected), `signals` (per kind: codes and counts).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from cocreate.fraud.log import (
    MISSING,
    Accounts,
    BoolArray,
    Finding,
    FindingKind,
    Float64Array,
    Int64Array,
    VoteLog,
)

__all__ = ["ScanConfig", "scan"]


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


def scan(log: VoteLog, accounts: Accounts, *, config: ScanConfig | None = None) -> list[Finding]:
    """Every finding of every detector in one round's log, merged, highest score first."""
    cfg = config or ScanConfig()
    if len(log) == 0:
        return []
    ctx = _Context.build(log, accounts)
    episodes = _episodes(ctx, cfg)
    findings = _rings(ctx, cfg, episodes) + _sockpuppets(ctx, cfg) + _bursts(ctx, cfg, episodes)
    return _merge(ctx, findings, cfg)


# -- shared helpers ---------------------------------------------------------------------------


def _surprise(n: Any, lam: Any) -> Any:
    """Chernoff bound of the Poisson upper tail in nats (0 where n <= lam); arrays or scalars."""
    n_arr = np.asarray(n, dtype=np.float64)
    lam_arr = np.maximum(np.asarray(lam, dtype=np.float64), 1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = n_arr * np.log(np.maximum(n_arr, 1e-12) / lam_arr) - n_arr + lam_arr
    return np.where(n_arr > lam_arr, value, 0.0)


def _score(surprise: float, cfg: ScanConfig) -> float:
    return round(1.0 - math.exp(-max(surprise, 0.0) / cfg.score_scale), 4)


def _ids(values: Iterable[Any]) -> frozenset[int]:
    return frozenset(int(v) for v in values)


@dataclass(frozen=True)
class _Context:
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
    def build(log: VoteLog, accounts: Accounts) -> _Context:
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
        return _Context(
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
        return _ids(self.log.vote_id[votes])

    def voter_ids(self, rows: Iterable[int]) -> frozenset[int]:
        return _ids(self.user_ids[np.asarray(list(rows), dtype=np.int64)])


# -- bursts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Episode:
    idea: int  # dense
    start: float
    end: float
    votes: Int64Array  # vote indices in [start, end] for the idea
    expected: float
    surprise: float
    window_votes: int  # votes for any idea in [start, end]


def _episodes(ctx: _Context, cfg: ScanConfig) -> list[_Episode]:
    """Per idea, the stretches of time whose vote count is far above the idea's own rate."""
    at = ctx.log.at
    t0 = float(at.min())
    span = float(at.max()) - t0 + max(cfg.burst_windows) + 1.0
    order = np.lexsort((at, ctx.idea))
    key = ctx.idea[order] * span + (at[order] - t0)  # sorted: idea, then time
    n_total = key.shape[0]
    t_sorted = np.sort(at)
    per_idea = np.bincount(ctx.idea, minlength=ctx.n_ideas)
    idea_sorted = ctx.idea[order]
    at_sorted = at[order]
    starts: list[Float64Array] = []
    ends: list[Float64Array] = []
    ideas: list[Int64Array] = []
    for width in cfg.burst_windows:
        last = np.searchsorted(key, key + width, side="left")
        count = last - np.arange(n_total)
        in_window = np.searchsorted(t_sorted, at_sorted + width, side="left") - np.searchsorted(
            t_sorted, at_sorted, side="left"
        )
        outside = np.maximum(n_total - in_window, 1)
        lam = (per_idea[idea_sorted] - count + cfg.burst_prior_votes) * in_window / outside
        hot = (count >= cfg.burst_min_votes) & (count >= cfg.burst_min_ratio * lam)
        hot_idx = np.flatnonzero(hot)
        hot_idx = hot_idx[_surprise(count[hot_idx], lam[hot_idx]) >= cfg.burst_min_surprise]
        if hot_idx.size:
            starts.append(at_sorted[hot_idx])
            ends.append(at_sorted[last[hot_idx] - 1])
            ideas.append(idea_sorted[hot_idx])
    if not starts:
        return []
    w_start = np.concatenate(starts)
    w_end = np.concatenate(ends)
    w_idea = np.concatenate(ideas)
    # Merge overlapping windows of one idea (offsetting by idea keeps ideas apart).
    s_key = w_idea * span + (w_start - t0)
    e_key = w_idea * span + (w_end - t0)
    o = np.argsort(s_key, kind="stable")
    s_key, e_key, w_idea = s_key[o], e_key[o], w_idea[o]
    reach = np.maximum.accumulate(e_key)
    new = np.ones(s_key.shape[0], dtype=bool)
    new[1:] = s_key[1:] > reach[:-1]
    first = np.flatnonzero(new)
    g_end = np.maximum.reduceat(e_key, first)
    episodes: list[_Episode] = []
    for g, i in enumerate(first):
        lo = int(np.searchsorted(key, s_key[i], side="left"))
        hi = int(np.searchsorted(key, g_end[g], side="right"))
        votes = order[lo:hi]
        idea = int(w_idea[i])
        start = float(s_key[i] - idea * span + t0)
        end = float(g_end[g] - idea * span + t0)
        n_window = int(
            np.searchsorted(t_sorted, end, side="right")
            - np.searchsorted(t_sorted, start, side="left")
        )
        n = votes.shape[0]
        lam = (
            (int(per_idea[idea]) - n + cfg.burst_prior_votes)
            * n_window
            / max(n_total - n_window, 1)
        )
        episodes.append(
            _Episode(
                idea=idea,
                start=start,
                end=end,
                votes=votes,
                expected=float(lam),
                surprise=float(_surprise(n, lam)),
                window_votes=n_window,
            )
        )
    return episodes


def _over_represented(
    codes: Int64Array, global_share: dict[int, float], total: int, cfg: ScanConfig
) -> dict[int, tuple[int, float]]:
    """Codes far more frequent among `codes` than their share of the whole log predicts."""
    present = codes[codes != MISSING]
    if present.size < cfg.burst_min_cluster:
        return {}
    values, counts = np.unique(present, return_counts=True)
    found: dict[int, tuple[int, float]] = {}
    for value, count in zip(values.tolist(), counts.tolist(), strict=True):
        if count < cfg.burst_min_cluster:
            continue
        lam = total * global_share.get(value, 0.0)
        surprise = float(_surprise(count, lam))
        if surprise >= cfg.burst_cluster_surprise:
            found[value] = (count, surprise)
    return found


def _shares(codes: Int64Array, wanted: Int64Array) -> dict[int, float]:
    """Share of the whole log's votes holding each wanted code."""
    wanted = np.unique(wanted[wanted != MISSING])
    if wanted.size == 0:
        return {}
    hits = codes[np.isin(codes, wanted)]
    values, counts = np.unique(hits, return_counts=True)
    total = max(codes.shape[0], 1)
    return {int(v): int(c) / total for v, c in zip(values, counts, strict=True)}


def _bursts(ctx: _Context, cfg: ScanConfig, episodes: list[_Episode]) -> list[Finding]:
    if not episodes:
        return []
    log = ctx.log
    all_votes = np.concatenate([e.votes for e in episodes])
    prefix_share = _shares(log.ip_prefix, log.ip_prefix[all_votes])
    device_share = _shares(log.device, log.device[all_votes])
    findings: list[Finding] = []
    for e in episodes:
        n = int(e.votes.shape[0])
        prefixes = _over_represented(log.ip_prefix[e.votes], prefix_share, n, cfg)
        devices = _over_represented(log.device[e.votes], device_share, n, cfg)
        if not prefixes and not devices:
            continue
        flagged_mask = np.isin(log.ip_prefix[e.votes], list(prefixes)) | np.isin(
            log.device[e.votes], list(devices)
        )
        flagged = e.votes[flagged_mask]
        accounts = np.unique(ctx.acc[flagged])
        # Colleagues pushing a colleague's idea from the office network make a burst from one
        # prefix too, but from accounts with a life of their own. A script's accounts are new
        # (signed up just before) or used for nothing else.
        age = log.at[flagged] - ctx.created_at[ctx.acc[flagged]]
        young_rows = np.unique(ctx.acc[flagged][age < cfg.burst_young_account])
        theirs = ctx.votes_of(accounts.tolist())
        away = (log.at[theirs] < e.start - cfg.burst_single_use_margin) | (
            log.at[theirs] > e.end + cfg.burst_single_use_margin
        )
        used_elsewhere = np.unique(ctx.acc[theirs][away])
        # ... or never seen anywhere but on the burst's network or devices (accounts a script
        # warmed up with a few votes from its server are still confined to it).
        inside = np.isin(log.ip_prefix[theirs], list(prefixes)) | np.isin(
            log.device[theirs], list(devices)
        )
        seen_outside = np.unique(ctx.acc[theirs][~inside])
        confined = np.setdiff1d(accounts, seen_outside)
        fresh = np.union1d(np.union1d(young_rows, np.setdiff1d(accounts, used_elsewhere)), confined)
        fresh_share = fresh.shape[0] / max(accounts.shape[0], 1)
        if fresh_share < cfg.burst_min_fresh:
            continue
        # The accounts confined to the script's network are the script's: all their votes go.
        episode_votes = int(flagged.shape[0])
        flagged = np.union1d(flagged, theirs[np.isin(ctx.acc[theirs], confined)])
        young = int(young_rows.shape[0])
        concentration = max(s for _, s in [*prefixes.values(), *devices.values()])
        idea_id = int(ctx.idea_ids[e.idea])
        evidence: dict[str, Any] = {
            "reason": "burst",
            "accounts": int(accounts.shape[0]),
            "votes": int(flagged.shape[0]),
            "ideas": {str(idea_id): episode_votes},
            "windows": [_window(ctx, e)],
            "young_accounts": young,
            "single_use_accounts": int(accounts.shape[0] - used_elsewhere.shape[0]),
            "confined_accounts": int(confined.shape[0]),
            "signals": {
                "ip_prefix": [{"code": c, "votes": v} for c, (v, _) in prefixes.items()],
                "device": [{"code": c, "votes": v} for c, (v, _) in devices.items()],
            },
        }
        findings.append(
            Finding(
                kind=FindingKind.BURST,
                score=_score(min(e.surprise, concentration), cfg),
                vote_ids=ctx.vote_ids(flagged),
                voter_ids=ctx.voter_ids(accounts.tolist()),
                idea_ids=frozenset({idea_id}),
                evidence=evidence,
            )
        )
    return findings


def _window(ctx: _Context, e: _Episode) -> dict[str, Any]:
    return {
        "idea": int(ctx.idea_ids[e.idea]),
        "start": e.start,
        "end": e.end,
        "votes": int(e.votes.shape[0]),
        "expected": round(e.expected, 2),
    }


# -- rings ------------------------------------------------------------------------------------


def _rings(ctx: _Context, cfg: ScanConfig, episodes: list[_Episode]) -> list[Finding]:
    if len(episodes) < 2:
        return []
    # Voter rows of each episode (an account voting twice in one episode counts once).
    members = [np.unique(ctx.acc[e.votes]) for e in episodes]
    episodes_of: dict[int, list[int]] = defaultdict(list)
    for k, voters in enumerate(members):
        for r in voters.tolist():
            episodes_of[r].append(k)
    common: dict[tuple[int, int], int] = defaultdict(int)
    for ks in episodes_of.values():
        if len(ks) < 2 or len(ks) > 200:
            continue
        for x in range(len(ks)):
            for y in range(x + 1, len(ks)):
                if episodes[ks[x]].idea != episodes[ks[y]].idea:
                    common[(ks[x], ks[y])] += 1
    at_sorted_order = np.argsort(ctx.log.at, kind="stable")
    at_sorted = ctx.log.at[at_sorted_order]

    def other_votes(k: int) -> int:
        """Votes of episode k's voters in its window for other ideas: the chances they had of
        meeting another episode by accident."""
        e = episodes[k]
        lo = int(np.searchsorted(at_sorted, e.start, side="left"))
        hi = int(np.searchsorted(at_sorted, e.end, side="right"))
        span = at_sorted_order[lo:hi]
        mine = np.isin(ctx.acc[span], members[k])
        return int(np.sum(mine & (ctx.idea[span] != e.idea)))

    others: dict[int, int] = {}
    n_voters = max(int(np.unique(ctx.acc).shape[0]), 1)
    parent = list(range(len(episodes)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    links: dict[tuple[int, int], float] = {}
    for (a, b), shared in common.items():
        if shared < cfg.ring_min_accounts:
            continue
        for k in (a, b):
            if k not in others:
                others[k] = other_votes(k)
        ea, eb = episodes[a], episodes[b]
        # Honest overlap: A's voters' other votes that land on B at B's normal rate (and the
        # other way round), or plain independence over the round for distant episodes.
        expected = max(
            others[a] * eb.expected / max(eb.window_votes, 1),
            others[b] * ea.expected / max(ea.window_votes, 1),
            members[a].shape[0] * members[b].shape[0] / n_voters,
        )
        surprise = float(_surprise(shared, expected))
        if shared >= cfg.ring_min_lift * expected and surprise >= cfg.ring_min_surprise:
            links[(a, b)] = surprise
            parent[find(a)] = find(b)
    if not links:
        return []
    components: dict[int, list[int]] = defaultdict(list)
    for k in {k for pair in links for k in pair}:
        components[find(k)].append(k)
    findings: list[Finding] = []
    for ks in components.values():
        ideas_of: dict[int, set[int]] = defaultdict(set)
        for k in ks:
            for r in members[k].tolist():
                ideas_of[r].add(episodes[k].idea)
        candidates = np.asarray(sorted(r for r, ideas in ideas_of.items() if len(ideas) >= 2))
        if candidates.shape[0] < cfg.ring_min_accounts:
            continue
        # CopyCatch's test: a member voted for each of at least two of the ring's ideas within
        # `ring_window` of that idea's centre (the median time of the candidates' votes for
        # it). Colleagues voting over a working day for two colleagues' ideas share episodes
        # but not centres.
        centre: dict[int, float] = {}
        near: dict[int, Int64Array] = {}
        for i in sorted({episodes[k].idea for k in ks}):
            v = np.concatenate([episodes[k].votes for k in ks if episodes[k].idea == i])
            v = v[np.isin(ctx.acc[v], candidates)]
            if v.size == 0:
                continue
            centre[i] = float(np.median(ctx.log.at[v]))
            near[i] = np.unique(ctx.acc[v[np.abs(ctx.log.at[v] - centre[i]) <= cfg.ring_window]])
        covered = np.zeros(ctx.n_accounts, dtype=np.int64)
        for accs in near.values():
            covered[accs] += 1
        candidates = candidates[covered[candidates] >= 2]
        if candidates.shape[0] < cfg.ring_min_accounts:
            continue
        # ... and more of them than its votes around those centres would cover by chance: a
        # busy voter casting forty votes in the evening peak meets two popular targets by
        # accident, a ring member casting three does not.
        spans = [
            at_sorted_order[
                int(np.searchsorted(at_sorted, c - cfg.ring_window, side="left")) : int(
                    np.searchsorted(at_sorted, c + cfg.ring_window, side="right")
                )
            ]
            for c in centre.values()
        ]
        in_spans = np.unique(np.concatenate(spans))
        span_acc = ctx.acc[in_spans]
        span_acc = span_acc[np.isin(span_acc, candidates)]
        k_votes = np.bincount(span_acc, minlength=ctx.n_accounts)[candidates]
        share: dict[int, float] = {}
        for k in ks:
            e = episodes[k]
            share[e.idea] = max(share.get(e.idea, 0.0), e.expected / max(e.window_votes, 1))
        chance = sum(share.values())
        member_surprise = _surprise(covered[candidates], k_votes * chance)
        rows = candidates[member_surprise >= cfg.ring_member_surprise].tolist()
        if len(rows) < cfg.ring_min_accounts:
            continue
        row_set = np.asarray(rows, dtype=np.int64)
        surprise = max(s for pair, s in links.items() if pair[0] in ks)
        votes = ctx.votes_of(rows)
        pushed = sorted({episodes[k].idea for k in ks})
        per_idea: dict[str, int] = {}
        for k in ks:
            in_ring = np.isin(ctx.acc[episodes[k].votes], row_set)
            key = str(int(ctx.idea_ids[episodes[k].idea]))
            per_idea[key] = per_idea.get(key, 0) + int(in_ring.sum())
        ring_votes = sum(per_idea.values())
        evidence: dict[str, Any] = {
            "reason": "lockstep",
            "accounts": len(rows),
            "votes": int(votes.shape[0]),
            "ideas": per_idea,
            "windows": [_window(ctx, episodes[k]) for k in sorted(ks)],
            "lockstep_votes": ring_votes,
            "other_votes": int(votes.shape[0]) - ring_votes,
            "signals": {},
        }
        findings.append(
            Finding(
                kind=FindingKind.RING,
                score=_score(surprise, cfg),
                vote_ids=ctx.vote_ids(votes),
                voter_ids=ctx.voter_ids(rows),
                idea_ids=_ids(ctx.idea_ids[pushed]),
                evidence=evidence,
            )
        )
    return findings


# -- sockpuppets ------------------------------------------------------------------------------

_STRONG = ("device", "mailbox", "mailbox_pattern")
_KINDS = ("device", "mailbox", "mailbox_pattern", "email_domain", "ip_prefix", "signup")
_CODE_BITS = 44  # a token is kind << _CODE_BITS | code


def _account_tokens(ctx: _Context, cfg: ScanConfig) -> tuple[Int64Array, Int64Array]:
    """(account row, token) pairs for every shared signal of every account."""
    rows_all = np.arange(ctx.n_accounts, dtype=np.int64)
    parts_rows: list[Int64Array] = []
    parts_tok: list[Int64Array] = []

    def add(rows: Int64Array, kind: str, codes: Int64Array) -> None:
        keep = codes != MISSING
        parts_rows.append(rows[keep])
        parts_tok.append((_KINDS.index(kind) << _CODE_BITS) | codes[keep])

    log = ctx.log
    pairs = np.unique(np.stack([ctx.acc, log.device]), axis=1)
    add(pairs[0], "device", pairs[1])
    pairs = np.unique(np.stack([ctx.acc, log.ip_prefix]), axis=1)
    add(pairs[0], "ip_prefix", pairs[1])
    add(rows_all, "mailbox", ctx.mailbox)
    add(rows_all, "mailbox_pattern", ctx.pattern)
    add(rows_all, "email_domain", ctx.domain)
    created = ctx.created_at
    known = ~np.isnan(created)
    width = cfg.sock_signup_window
    for offset in (0.0, width / 2):
        bins = np.full(ctx.n_accounts, MISSING, dtype=np.int64)
        bins[known] = np.floor((created[known] + offset) / width).astype(np.int64) * 2 + (
            offset > 0
        )
        add(rows_all, "signup", bins)
    rows = np.concatenate(parts_rows)
    tokens = np.concatenate(parts_tok)
    return rows, tokens


def _sockpuppets(ctx: _Context, cfg: ScanConfig) -> list[Finding]:
    acc_rows, tokens = _account_tokens(ctx, cfg)
    token_values, token_index, holders = np.unique(tokens, return_inverse=True, return_counts=True)
    shared = (holders[token_index] >= 2) & (holders[token_index] <= cfg.sock_max_token_accounts)
    acc_rows, token_index = acc_rows[shared], token_index[shared]
    if acc_rows.size == 0:
        return []
    o = np.argsort(acc_rows, kind="stable")
    acc_rows, token_index = acc_rows[o], token_index[o]
    tok_start = np.zeros(ctx.n_accounts + 1, dtype=np.int64)
    np.cumsum(np.bincount(acc_rows, minlength=ctx.n_accounts), out=tok_start[1:])
    # Distinct (account, idea) pairs, joined with the account's shared signals.
    n_ideas = ctx.n_ideas
    pair_keys = np.unique(ctx.acc * n_ideas + ctx.idea)
    p_acc = pair_keys // n_ideas
    p_idea = pair_keys % n_ideas
    voters_per_idea = np.bincount(p_idea, minlength=n_ideas)
    reps = tok_start[p_acc + 1] - tok_start[p_acc]
    total = int(reps.sum())
    if total == 0:
        return []
    offsets = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(reps) - reps, reps)
    j_token = token_index[np.repeat(tok_start[p_acc], reps) + offsets]
    j_idea = np.repeat(p_idea, reps)
    j_acc = np.repeat(p_acc, reps)
    n_tokens = token_values.shape[0]
    it_keys, it_index, it_counts = np.unique(
        j_idea * n_tokens + j_token, return_inverse=True, return_counts=True
    )
    it_idea = it_keys // n_tokens
    it_tok = it_keys % n_tokens
    # A busy voter is likelier to have voted for any idea: the holders of a signal are weighed
    # by how many ideas each voted for (otherwise the networks and sign-up hours of busy
    # voters look over-represented among every popular idea's voters).
    ideas_per_account = np.bincount(p_acc, minlength=ctx.n_accounts).astype(np.float64)
    weight = np.bincount(token_index, weights=ideas_per_account[acc_rows], minlength=n_tokens)
    lam = weight[it_tok] * voters_per_idea[it_idea] / max(pair_keys.shape[0], 1)
    candidate = (it_counts >= cfg.sock_min_token_accounts) & (it_counts >= cfg.sock_min_ratio * lam)
    surprise = np.zeros(it_keys.shape[0])
    surprise[candidate] = _surprise(it_counts[candidate], lam[candidate])
    hot = surprise >= cfg.sock_token_surprise
    if not hot.any():
        return []
    rows_hot = hot[it_index]
    h_acc, h_idea, h_key = j_acc[rows_hot], j_idea[rows_hot], it_index[rows_hot]
    h_kind = token_values[it_tok[h_key]] >> _CODE_BITS
    # An (account, idea) qualifies with a flagged identity signal or two kinds of weak ones.
    strong_kinds = np.asarray([_KINDS.index(k) for k in _STRONG])
    is_strong = np.isin(h_kind, strong_kinds)
    pair = h_acc * n_ideas + h_idea
    strong_pairs = np.unique(pair[is_strong])
    weak = np.unique(np.stack([pair[~is_strong], h_kind[~is_strong]]), axis=1)
    wp, wc = np.unique(weak[0], return_counts=True)
    qualified = np.union1d(strong_pairs, wp[wc >= 2])
    keep = np.isin(pair, qualified)
    h_acc, h_idea, h_key = h_acc[keep], h_idea[keep], h_key[keep]
    if h_acc.size == 0:
        return []
    # Components over (account) -- (idea, signal) edges, per idea.
    parent: dict[tuple[str, int], tuple[str, int]] = {}

    def find(x: tuple[str, int]) -> tuple[str, int]:
        parent.setdefault(x, x)
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    for a, i, k in zip(h_acc.tolist(), h_idea.tolist(), h_key.tolist(), strict=True):
        parent[find(("p", a * n_ideas + i))] = find(("k", k))
    comp_accounts: dict[tuple[str, int], set[int]] = defaultdict(set)
    comp_keys: dict[tuple[str, int], set[int]] = defaultdict(set)
    for a, k in zip(h_acc.tolist(), h_key.tolist(), strict=True):
        root = find(("k", k))
        comp_accounts[root].add(a)
        comp_keys[root].add(k)
    # Clusters of one idea big enough; clusters sharing accounts across ideas merge.
    groups = [
        (acc_set, comp_keys[root])
        for root, acc_set in comp_accounts.items()
        if len(acc_set) >= cfg.sock_min_accounts
    ]
    if not groups:
        return []
    merged = _merge_sets(groups)
    findings: list[Finding] = []
    for acc_set, key_set in merged:
        rows = sorted(acc_set)
        keys = np.asarray(sorted(key_set), dtype=np.int64)
        votes = ctx.votes_of(rows)
        # Pushed: the flagged ideas most of the group voted for; a few of a script's accounts
        # meeting on a popular idea (camouflage) are not what the group is for.
        flagged_ideas = np.unique(it_idea[keys])
        pair_acc = np.unique(ctx.acc[votes] * n_ideas + ctx.idea[votes])
        backers = np.bincount(pair_acc % n_ideas, minlength=n_ideas)[flagged_ideas]
        pushed = flagged_ideas[backers >= cfg.sock_pushed_share * backers.max()]
        signals: dict[str, list[dict[str, Any]]] = defaultdict(list)
        best: dict[int, float] = {}
        for k in keys.tolist():
            token = int(token_values[it_tok[k]])
            best[token] = max(best.get(token, 0.0), float(surprise[k]))
        # Every signal two or more of the group's accounts hold, the flagged ones first.
        in_group = np.isin(acc_rows, np.asarray(rows, dtype=np.int64))
        held_by = np.bincount(token_index[in_group], minlength=n_tokens)
        common_tokens = np.flatnonzero(held_by >= 2)
        width = cfg.sock_signup_window
        listed = sorted(
            common_tokens.tolist(),
            key=lambda t: (-best.get(int(token_values[t]), 0.0), -int(held_by[t])),
        )
        for t in listed:
            token = int(token_values[t])
            kind = _KINDS[token >> _CODE_BITS]
            code = token & ((1 << _CODE_BITS) - 1)
            entry: dict[str, Any] = {"code": code}
            if kind == "signup":
                start = (code // 2) * width - (code % 2) * width / 2
                entry = {"start": start, "end": start + width}
            entry["accounts"] = int(held_by[t])
            entry["flagged"] = token in best
            signals[kind].append(entry)
        group_votes = ctx.idea[votes]
        ideas = {str(int(ctx.idea_ids[i])): int(np.sum(group_votes == i)) for i in pushed.tolist()}
        evidence: dict[str, Any] = {
            "reason": "shared_signals",
            "accounts": len(rows),
            "votes": int(votes.shape[0]),
            "ideas": ideas,
            "windows": [],
            "disposable_accounts": int(ctx.disposable[np.asarray(rows)].sum()),
            "signals": dict(signals),
        }
        total_surprise = sum(sorted(best.values(), reverse=True)[:3])
        findings.append(
            Finding(
                kind=FindingKind.SOCKPUPPETS,
                score=_score(total_surprise, cfg),
                vote_ids=ctx.vote_ids(votes),
                voter_ids=ctx.voter_ids(rows),
                idea_ids=_ids(ctx.idea_ids[pushed]),
                evidence=evidence,
            )
        )
    return findings


def _merge_sets(groups: list[tuple[set[int], set[int]]]) -> list[tuple[set[int], set[int]]]:
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


# -- merging ----------------------------------------------------------------------------------


def _merge(ctx: _Context, findings: list[Finding], cfg: ScanConfig) -> list[Finding]:
    """One account, one finding. Best score first, a finding joins an earlier one when at least
    half of the smaller one's accounts are shared (the same group seen by two detectors);
    otherwise it keeps only the accounts (and their votes) no earlier finding holds."""
    order = np.argsort(ctx.log.vote_id, kind="stable")
    sorted_ids = ctx.log.vote_id[order]
    voter_of_vote = ctx.user_ids[ctx.acc[order]]
    groups: list[list[Finding]] = []
    owner: dict[int, int] = {}
    for f in sorted(findings, key=lambda f: (-f.score, -len(f.voter_ids))):
        shared: dict[int, int] = defaultdict(int)
        for voter in f.voter_ids:
            if voter in owner:
                shared[owner[voter]] += 1
        if shared:
            g, count = max(shared.items(), key=lambda item: item[1])
            held = {v for p in groups[g] for v in p.voter_ids}
            if count >= cfg.merge_overlap * min(len(f.voter_ids), len(held)):
                free = {v for v in f.voter_ids if owner.get(v, g) == g}
                f = _restrict(f, free, sorted_ids, voter_of_vote)
                groups[g].append(f)
                for v in free:
                    owner[v] = g
                continue
            free = {v for v in f.voter_ids if v not in owner}
            if not free:
                continue
            f = _restrict(f, free, sorted_ids, voter_of_vote)
        groups.append([f])
        for v in f.voter_ids:
            owner[v] = len(groups) - 1
    merged = [_combine(parts) for parts in groups]
    merged.sort(key=lambda f: (-f.score, -len(f.vote_ids)))
    return merged


def _restrict(
    f: Finding, voters: set[int], sorted_ids: Int64Array, voter_of_vote: Int64Array
) -> Finding:
    if voters == f.voter_ids:
        return f
    ids = np.fromiter(f.vote_ids, dtype=np.int64, count=len(f.vote_ids))
    keep = np.isin(voter_of_vote[np.searchsorted(sorted_ids, ids)], list(voters))
    evidence = dict(f.evidence)
    evidence["accounts_in_other_findings"] = len(f.voter_ids) - len(voters)
    evidence["accounts"] = len(voters)
    evidence["votes"] = int(keep.sum())
    return Finding(
        kind=f.kind,
        score=f.score,
        vote_ids=_ids(ids[keep]),
        voter_ids=frozenset(voters),
        idea_ids=f.idea_ids,
        evidence=evidence,
    )


def _combine(parts: list[Finding]) -> Finding:
    if len(parts) == 1:
        return parts[0]
    best = parts[0]
    miss = 1.0
    for p in parts:
        miss *= 1.0 - p.score
    votes = frozenset().union(*(p.vote_ids for p in parts))
    voters = frozenset().union(*(p.voter_ids for p in parts))
    evidence = dict(best.evidence)
    evidence["parts"] = [
        {"kind": p.kind.value, "score": p.score, "evidence": p.evidence} for p in parts
    ]
    evidence["votes"] = len(votes)
    evidence["accounts"] = len(voters)
    return Finding(
        kind=best.kind,
        score=round(1.0 - miss, 4),
        vote_ids=votes,
        voter_ids=voters,
        idea_ids=frozenset().union(*(p.idea_ids for p in parts)),
        evidence=evidence,
    )
