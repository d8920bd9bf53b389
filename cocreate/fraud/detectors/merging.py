"""Merging findings so that one account sits in one finding: best score first, a finding that
shares most of its accounts with an earlier one joins it, otherwise it keeps only the accounts
no earlier finding holds."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from cocreate.fraud.detectors.context import Context, ScanConfig, id_set
from cocreate.fraud.log import Finding, Int64Array


def merge_findings(ctx: Context, findings: list[Finding], cfg: ScanConfig) -> list[Finding]:
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
        vote_ids=id_set(ids[keep]),
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
