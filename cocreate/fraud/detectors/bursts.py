"""Episodes (stretches of time where an idea gets far more votes than its own rate predicts)
and the burst findings: an episode's votes concentrated on an IP prefix or a device, from
accounts that are mostly new, single-use or never seen off that network."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cocreate.fraud.detectors.context import Context, ScanConfig, poisson_surprise, score_of
from cocreate.fraud.log import MISSING, Finding, FindingKind, Float64Array, Int64Array


@dataclass(frozen=True)
class Episode:
    idea: int  # dense
    start: float
    end: float
    votes: Int64Array  # vote indices in [start, end] for the idea
    expected: float
    surprise: float
    window_votes: int  # votes for any idea in [start, end]


def find_episodes(ctx: Context, cfg: ScanConfig) -> list[Episode]:
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
        hot_idx = hot_idx[poisson_surprise(count[hot_idx], lam[hot_idx]) >= cfg.burst_min_surprise]
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
    episodes: list[Episode] = []
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
            Episode(
                idea=idea,
                start=start,
                end=end,
                votes=votes,
                expected=float(lam),
                surprise=float(poisson_surprise(n, lam)),
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
        surprise = float(poisson_surprise(count, lam))
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


def burst_findings(ctx: Context, cfg: ScanConfig, episodes: list[Episode]) -> list[Finding]:
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
            "windows": [window_evidence(ctx, e)],
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
                score=score_of(min(e.surprise, concentration), cfg),
                vote_ids=ctx.vote_ids(flagged),
                voter_ids=ctx.voter_ids(accounts.tolist()),
                idea_ids=frozenset({idea_id}),
                evidence=evidence,
            )
        )
    return findings


def window_evidence(ctx: Context, e: Episode) -> dict[str, Any]:
    return {
        "idea": int(ctx.idea_ids[e.idea]),
        "start": e.start,
        "end": e.end,
        "votes": int(e.votes.shape[0]),
        "expected": round(e.expected, 2),
    }
