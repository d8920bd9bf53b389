"""Layer 1 at the vote endpoint: gather the cheap signals, score them, apply the policy.

Cost per vote: three sliding-window counts in the shared store (`security/windows.py`: process
memory, or one Redis round trip when `COCREATE_REDIS_URL` is set, so every worker sees every
vote) and at most one
indexed query (other accounts of the voter's canonical mailbox that voted in the round).
The windows count vote attempts, refused ones included: a script hammering the endpoint
raises its own score. A resubmission with a solved challenge reads the windows without
counting again, so solving the challenge does not push the voter's score up.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlmodel import Session

from cocreate.fraud.policy import Decision, FraudPolicy
from cocreate.fraud.risk import (
    DEVICE_WINDOW,
    NETWORK_WINDOW,
    VELOCITY_WINDOW,
    Risk,
    RiskInputs,
    assess,
)
from cocreate.security.ratelimit import RateLimiter
from cocreate.security.windows import Window
from cocreate.voting.service import Signals

if TYPE_CHECKING:
    from cocreate.voting.open_round import RoundLike, Voter

log = logging.getLogger("cocreate.fraud")


NETWORK = Window("vote-network", int(NETWORK_WINDOW.total_seconds()))
DEVICE = Window("vote-device", int(DEVICE_WINDOW.total_seconds()))
VELOCITY = Window("vote-account", int(VELOCITY_WINDOW.total_seconds()))

# Other accounts of the same mailbox (plus tags, Gmail dots) with a live vote in the round.
# users.canonical_mailbox is indexed; the EXISTS probes the (round_id, voter_id, ...) unique
# index of live votes. Nearly every voter has no sibling: one index lookup finding only them.
MAILBOX_SIBLINGS = text(
    "SELECT count(*) FROM users AS u WHERE u.canonical_mailbox = :mailbox AND u.id <> :voter "
    "AND EXISTS (SELECT 1 FROM votes AS v WHERE v.round_id = :round AND v.voter_id = u.id "
    "AND v.withdrawn_at IS NULL)"
)


@dataclass(frozen=True)
class Screening:
    risk: Risk
    decision: Decision
    policy: FraudPolicy

    def reason(self, *, solved: bool) -> str:
        """What the vote row keeps as `status_reason`."""
        score = round(self.risk.score * 100)
        if self.decision == Decision.HOLD:
            return f"held: risk {score} above {self.policy.challenge_above}"
        if solved:
            return f"challenge solved: risk {score} above {self.policy.challenge_above}"
        return f"counted: risk {score}"


def mailbox_siblings(*, session: Session, voter: Voter, round_id: int) -> int:
    if not voter.canonical_mailbox:
        return 0
    row = (
        session.connection()
        .execute(
            MAILBOX_SIBLINGS,
            {"mailbox": voter.canonical_mailbox, "voter": voter.id, "round": round_id},
        )
        .one()
    )
    return int(row[0])


def _siblings(session: Session | None, voter: Voter, round_id: int) -> int:
    assert session is not None, "without a session, give the siblings read with the round"
    return mailbox_siblings(session=session, voter=voter, round_id=round_id)


def screen_vote(
    *,
    session: Session | None,
    limiter: RateLimiter,
    round_: RoundLike,
    voter: Voter,
    signals: Signals,
    now: datetime,
    solved: bool = False,
    count: bool = True,
    siblings: int | None = None,
    pace: float = 1.0,
) -> Screening:
    """Score a vote attempt and decide it under the round's policy. `count`: record the
    attempt in the windows (False when re-reading them for the same attempt). `siblings`:
    the mailbox siblings when the caller already read them (`OpenRound.mailbox_siblings`,
    read with the round); None: asked here. `pace`: the method's ballot actions per vote
    (`risk.RiskInputs.pace`)."""
    assert round_.id is not None and voter.id is not None
    keys = [(VELOCITY, str(voter.id))]
    if signals.ip_prefix_hash:  # already salted per campaign
        keys.append((NETWORK, signals.ip_prefix_hash))
    if signals.device_id:
        keys.append((DEVICE, f"{round_.campaign_id}:{signals.device_id}"))
    found = dict(
        zip((w.name for w, _k in keys), limiter.windows.counts(keys, hit=count), strict=True)
    )
    network = found.get(NETWORK.name, 0)
    device = found.get(DEVICE.name, 0)
    velocity = found[VELOCITY.name]
    inputs = RiskInputs(
        email=voter.email,
        verified=voter.is_verified,
        account_created_at=voter.created_at,
        now=now,
        user_agent=signals.user_agent,
        network_votes=network,
        device_votes=device,
        account_votes=velocity,
        mailbox_siblings=siblings if siblings is not None else _siblings(session, voter, round_.id),
        pace=pace,
    )
    risk = assess(inputs)
    policy = FraudPolicy.from_json(round_.fraud_policy)
    return Screening(risk=risk, decision=policy.decide(risk.score, solved=solved), policy=policy)


def apply(signals: Signals, screening: Screening, *, solved: bool) -> Signals:
    """The signals to store with the vote: score, what contributed, hold or not, and why."""
    return replace(
        signals,
        risk_score=round(screening.risk.score, 4),
        risk_signals=screening.risk.as_json(),
        hold=screening.decision == Decision.HOLD,
        status_reason=screening.reason(solved=solved),
    )


def log_refusal(*, round_: RoundLike, voter: Voter, screening: Screening) -> None:
    """A refused vote is not stored; its trace is one log line (no IP, not even hashed)."""
    log.warning(
        "vote refused: round=%s voter=%s risk=%.2f signals=%s",
        round_.id,
        voter.id,
        screening.risk.score,
        ",".join(f"{k}={v:.2f}" for k, v in sorted(screening.risk.signals.items())),
    )
