"""Layer 1 replayed over a generated round: what the vote endpoint would have decided.

Every vote of the log, in time order, gets the inputs `cocreate/fraud/screen.py` gathers at
vote time, computed vectorised:

- the three window counts (IP prefix and device cookie over an hour, the account over a
  minute) exactly as `cocreate.security.windows` counts them: a fixed window's hits so far,
  this vote included, plus the previous fixed window's hits weighted by the share of it the
  sliding window still covers;
- mailbox siblings: other accounts of the same canonical mailbox that had voted before;
- the account's age at the vote, its verified flag, its disposable domain, its user agent.

The score itself is not re-implemented: the inputs are bucketed (ages to the three classes
`assess` distinguishes, window counts capped where its ramps saturate) and `assess` and
`FraudPolicy.decide` run once per distinct combination, with an address at a domain of the
real disposable list where the account's domain is disposable. Simplifications: every vote
of the log counts as an attempt (refused ones included, as the windows do), and a sibling's
"live vote" is any earlier vote of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cocreate.fraud import risk as r
from cocreate.fraud.log import Accounts, VoteLog
from cocreate.fraud.policy import Decision, FraudPolicy, Middle

COUNT, CHALLENGE, HOLD, REFUSE = 0, 1, 2, 3
DECISIONS = {COUNT: "counted", CHALLENGE: "challenged", HOLD: "held", REFUSE: "refused"}
_CODE = {
    Decision.COUNT: COUNT,
    Decision.CHALLENGE: CHALLENGE,
    Decision.HOLD: HOLD,
    Decision.REFUSE: REFUSE,
}
# A domain of the package's list, so `assess` finds it disposable as it would in production.
DISPOSABLE_ADDRESS = "someone@mailinator.com"
ORDINARY_ADDRESS = "someone@example.org"


@dataclass(frozen=True)
class Layer1:
    score: NDArray[np.float64]  # per vote of the log, in log order
    default: NDArray[np.int64]  # decision under the default policy (middle = challenge)
    hold: NDArray[np.int64]  # decision with middle = hold
    signals: dict[str, NDArray[np.bool_]]  # which signals fired, per vote


def window_counts(key: NDArray[np.int64], at: NDArray[np.float64], seconds: int) -> Any:
    """What `MemoryWindows.counts(hit=True)` returns for each vote, votes in time order."""
    w = np.floor(at / seconds).astype(np.int64)
    w -= int(w.min()) - 1
    span = int(w.max()) + 2
    slot = key * span + w
    order = np.lexsort((at, slot))
    s = slot[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    sizes = np.diff(np.r_[starts, s.shape[0]])
    current = np.empty(s.shape[0], dtype=np.int64)
    current[order] = np.arange(s.shape[0]) - np.repeat(starts, sizes) + 1
    uniq = s[starts]
    pos = np.searchsorted(uniq, slot - 1)
    pos_c = np.minimum(pos, uniq.shape[0] - 1)
    previous = np.where(uniq[pos_c] == slot - 1, sizes[pos_c], 0)
    elapsed = (at % seconds) / seconds
    return current + np.floor(previous * (1 - elapsed)).astype(np.int64)


def replay(log: VoteLog, accounts: Accounts, scripted_ua: NDArray[np.bool_]) -> Layer1:
    """`scripted_ua[code]`: the user agent of that code is one `user_agent_signal` flags."""
    row_of = np.argsort(accounts.user_id)
    acc = row_of[np.searchsorted(accounts.user_id[row_of], log.voter)]
    at = log.at
    network = window_counts(log.ip_prefix, at, int(r.NETWORK_WINDOW.total_seconds()))
    device = window_counts(log.device, at, int(r.DEVICE_WINDOW.total_seconds()))
    velocity = window_counts(acc.astype(np.int64), at, int(r.VELOCITY_WINDOW.total_seconds()))
    # Mailbox siblings: accounts of the vote's mailbox whose first vote is at or before it,
    # minus the voter.
    first = np.full(len(accounts), np.inf)
    np.minimum.at(first, acc, at)
    t0 = float(at.min()) - 1.0
    big = float(at.max()) - t0 + 10.0
    voted = np.isfinite(first)
    firsts = np.sort(accounts.mailbox[voted] * big + (first[voted] - t0))
    mbox = accounts.mailbox[acc].astype(np.float64)
    siblings = (
        np.searchsorted(firsts, mbox * big + (at - t0), side="right")
        - np.searchsorted(firsts, mbox * big, side="left")
        - 1
    )
    age = at - accounts.created_at[acc]
    age_class = np.where(age < 86400.0, 0, np.where(age < 7 * 86400.0, 1, 2))
    columns = np.stack(
        [
            accounts.verified[acc].astype(np.int64),
            age_class,
            accounts.disposable[acc].astype(np.int64),
            scripted_ua[log.user_agent].astype(np.int64),
            np.minimum(network, 2 * r.NETWORK_FREE),
            np.minimum(device, 2 * r.DEVICE_FREE),
            np.minimum(velocity, 2 * r.VELOCITY_FREE),
            np.minimum(np.maximum(siblings, 0), 2),
        ],
        axis=1,
    )
    combos, inverse = np.unique(columns, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    now = datetime(2026, 5, 10, tzinfo=UTC)
    ages = [timedelta(hours=1), timedelta(days=2), timedelta(days=30)]
    default_policy = FraudPolicy()
    hold_policy = FraudPolicy(middle=Middle.HOLD)
    names = [
        "unverified_email", "new_account", "disposable_email", "scripted_user_agent",
        "shared_network", "shared_device", "velocity", "mailbox_siblings",
    ]  # fmt: skip
    c_score = np.empty(combos.shape[0])
    c_default = np.empty(combos.shape[0], dtype=np.int64)
    c_hold = np.empty(combos.shape[0], dtype=np.int64)
    c_fired = np.zeros((combos.shape[0], len(names)), dtype=bool)
    for k, (ver, age_k, disp, scripted, net, dev, vel, sib) in enumerate(combos.tolist()):
        risk = r.assess(
            r.RiskInputs(
                email=DISPOSABLE_ADDRESS if disp else ORDINARY_ADDRESS,
                verified=bool(ver),
                account_created_at=now - ages[age_k],
                now=now,
                user_agent="python-requests/2.31" if scripted else "Mozilla/5.0 (X11)",
                network_votes=net,
                device_votes=dev,
                account_votes=vel,
                mailbox_siblings=sib,
            )
        )
        c_score[k] = risk.score
        c_default[k] = _CODE[default_policy.decide(risk.score)]
        c_hold[k] = _CODE[hold_policy.decide(risk.score)]
        for j, name in enumerate(names):
            c_fired[k, j] = name in risk.signals
    return Layer1(
        score=c_score[inverse],
        default=c_default[inverse],
        hold=c_hold[inverse],
        signals={name: c_fired[inverse, j] for j, name in enumerate(names)},
    )
