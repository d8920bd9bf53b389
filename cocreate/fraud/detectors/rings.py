"""Lockstep rings (CopyCatch's idea): accounts that share episodes of several ideas, each
within a short window around a common per-idea centre."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from cocreate.fraud.detectors.bursts import Episode, window_evidence
from cocreate.fraud.detectors.context import Context, ScanConfig, id_set, poisson_surprise, score_of
from cocreate.fraud.log import Finding, FindingKind, Int64Array


def ring_findings(ctx: Context, cfg: ScanConfig, episodes: list[Episode]) -> list[Finding]:
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
        surprise = float(poisson_surprise(shared, expected))
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
        member_surprise = poisson_surprise(covered[candidates], k_votes * chance)
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
            "windows": [window_evidence(ctx, episodes[k]) for k in sorted(ks)],
            "lockstep_votes": ring_votes,
            "other_votes": int(votes.shape[0]) - ring_votes,
            "signals": {},
        }
        findings.append(
            Finding(
                kind=FindingKind.RING,
                score=score_of(surprise, cfg),
                vote_ids=ctx.vote_ids(votes),
                voter_ids=ctx.voter_ids(rows),
                idea_ids=id_set(ctx.idea_ids[pushed]),
                evidence=evidence,
            )
        )
    return findings
