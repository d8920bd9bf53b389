"""Sockpuppet clusters: accounts over-represented among an idea's voters through a shared
signal (a device, a mailbox or its pattern, an email domain, an IP prefix, a sign-up window),
joined into clusters through the signals flagged."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from cocreate.fraud.detectors.context import (
    Context,
    ScanConfig,
    id_set,
    merge_sets,
    poisson_surprise,
    score_of,
)
from cocreate.fraud.log import MISSING, Finding, FindingKind, Int64Array

_STRONG = ("device", "mailbox", "mailbox_pattern")
_KINDS = ("device", "mailbox", "mailbox_pattern", "email_domain", "ip_prefix", "signup")
_CODE_BITS = 44  # a token is kind << _CODE_BITS | code


def _account_tokens(ctx: Context, cfg: ScanConfig) -> tuple[Int64Array, Int64Array]:
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


def sockpuppet_findings(ctx: Context, cfg: ScanConfig) -> list[Finding]:
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
    surprise[candidate] = poisson_surprise(it_counts[candidate], lam[candidate])
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
    merged = merge_sets(groups)
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
                score=score_of(total_surprise, cfg),
                vote_ids=ctx.vote_ids(votes),
                voter_ids=ctx.voter_ids(rows),
                idea_ids=id_set(ctx.idea_ids[pushed]),
                evidence=evidence,
            )
        )
    return findings
