"""Layer 2 detectors: lockstep rings, sockpuppet clusters and bursts in one round's vote log.

Pure functions over the columnar `VoteLog` and `Accounts` (see `fraud/log.py`): no database, no
clock. `scan` runs every detector and returns the findings, merged so that one account sits in
one finding, sorted by score (highest first).

Statistics. Every test asks one question: is a count far above what the rest of the log
predicts? Counts are compared with a Poisson expectation `lam` through the Chernoff bound of
the upper tail, `surprise = n ln(n / lam) - n + lam` nats (P[X >= n] <= exp(-surprise)). A
baseline from the log itself makes popular ideas, busy hours and big shared networks count
for little, which is what defeats camouflage (the idea FRAUDAR gets from its column weights
1 / log(degree + c)): a vote for a popular idea, a share of a mobile carrier's CGNAT prefix or
a vote in the evening peak is expected and carries no evidence.

- Bursts (`bursts.py`): for every vote, the idea's votes in the window that starts
  there (15 min, 1 h, 4 h) are compared with `lam` = the idea's votes outside that window
  times the share of the whole log's votes that fall inside it (the daily rhythm is in the
  log, so the evening peak predicts more votes than 4 a.m.). Windows far above `lam` merge
  into episodes. An episode alone is not fraud (an idea shared on social media gets honest
  bursts); the burst finding flags only the episode's votes that come from an IP prefix or a
  device far over-represented in the episode compared with its share of the whole log, when
  most of their accounts are new, used for nothing else, or never seen off that network.
- Lockstep rings (`rings.py`, CopyCatch's idea): accounts that share several episodes of
  different ideas, i.e. voted for the same ideas each within a short window around a common
  per-idea centre. Two episodes are linked when their common voters are far more than
  independence predicts (`|A| |B| / active voters`); members are the accounts in linked
  episodes of at least two different ideas. Camouflage votes on popular ideas do not hide a
  member: membership never looks at the member's other votes.
- Sockpuppets (`sockpuppets.py`): for every (idea, shared signal) pair, the idea's voters
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

from cocreate.fraud.detectors.bursts import burst_findings, find_episodes
from cocreate.fraud.detectors.context import Context, ScanConfig
from cocreate.fraud.detectors.merging import merge_findings
from cocreate.fraud.detectors.rings import ring_findings
from cocreate.fraud.detectors.sockpuppets import sockpuppet_findings
from cocreate.fraud.log import Accounts, Finding, VoteLog

__all__ = ["ScanConfig", "scan"]


def scan(log: VoteLog, accounts: Accounts, *, config: ScanConfig | None = None) -> list[Finding]:
    """Every finding of every detector in one round's log, merged, highest score first."""
    cfg = config or ScanConfig()
    if len(log) == 0:
        return []
    ctx = Context.build(log, accounts)
    episodes = find_episodes(ctx, cfg)
    findings = (
        ring_findings(ctx, cfg, episodes)
        + sockpuppet_findings(ctx, cfg)
        + burst_findings(ctx, cfg, episodes)
    )
    return merge_findings(ctx, findings, cfg)
