"""Every statement that writes the head-to-head tables (the chooser's reads are in `reads`).

Writes: `enter_ideas` / `withdraw_ideas` (which ideas the chooser may offer), `record_choice`
(idempotent: `INSERT ... ON CONFLICT DO NOTHING` on the voter's pair), `change_status` (fraud
review holds, voids and releases a choice) and `rebuild_statistics` (the full estimate
replaces the running one). Functions take a session and plain values and never commit: the
caller's transaction is the unit of work.

The running statistics follow each counted decided choice (a "can't decide" is counted but
moves no score, as in the default estimate) with one diagonal Newton step on the
Bradley-Terry log posterior (an Elo update whose step shrinks as the idea's information
grows, as in Glicko): the chooser only needs "close" scores, and this keeps them close to
the full estimate between rebuilds at the cost of two single-row UPDATEs. Both UPDATEs add
to the stored values, so two concurrent choices on one idea lose nothing; they are issued
in idea-id order so that two transactions never wait on each other's rows in a cycle.
"""

from __future__ import annotations

import enum
import math
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Integer, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from cocreate.headtohead import estimate
from cocreate.headtohead.models import ChoiceStatus, HeadToHeadChoice, HeadToHeadStats, Outcome
from cocreate.headtohead.reads import offered

CHOICES = HeadToHeadChoice.__table__  # type: ignore[attr-defined]
STATS = HeadToHeadStats.__table__  # type: ignore[attr-defined]
KEY_SPACE = 2**31  # shuffle keys are in [0, KEY_SPACE)
STREAM_CHUNK = 50_000  # rows per fetch when the choices are read for a rebuild


@dataclass(frozen=True)
class ChoiceSignals:
    """The fraud signals a choice stores, as a vote stores them (no raw IP address)."""

    ip_hash: str | None = None
    ip_prefix_hash: str | None = None
    device_id: str | None = None
    user_agent: str | None = None
    risk_score: float = 0.0
    risk_signals: dict[str, Any] = field(default_factory=dict)


class Recorded(enum.StrEnum):
    RECORDED = "recorded"
    ALREADY_JUDGED = "already_judged"  # this voter judged this pair before: nothing changed
    NOT_IN_ROUND = "not_in_round"  # an idea is not (or no longer) offered in the round
    INVALID = "invalid"  # the same idea twice, or an unknown outcome


def _insert(session: Session) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


# -- which ideas take part ------------------------------------------------------------------


def enter_ideas(
    *, session: Session, round_id: int, idea_ids: Iterable[int], rng: random.Random
) -> None:
    """Offer these ideas in the round: a statistics row each (kept if there is one), active."""
    ids = sorted(set(idea_ids))
    if not ids:
        return
    rows = [
        {"round_id": round_id, "idea_id": idea_id, "shuffle_key": rng.randrange(KEY_SPACE)}
        for idea_id in ids
    ]
    session.execute(
        _insert(session)(STATS).on_conflict_do_nothing(index_elements=["round_id", "idea_id"]),
        [
            dict(row, active=True, comparisons=0, wins=0, losses=0, ties=0) | _prior()
            for row in rows
        ],
    )
    _set_active(session, round_id, ids, active=True)


def withdraw_ideas(*, session: Session, round_id: int, idea_ids: Iterable[int]) -> None:
    """Stop offering these ideas (rejected, hidden, merged); their statistics stay."""
    _set_active(session, round_id, sorted(set(idea_ids)), active=False)


def _set_active(session: Session, round_id: int, ids: list[int], *, active: bool) -> None:
    for start in range(0, len(ids), 1000):
        session.execute(
            update(STATS)
            .where(
                STATS.c.round_id == round_id,
                STATS.c.idea_id.in_(ids[start : start + 1000]),
                STATS.c.active != active,
            )
            .values(active=active)
        )


def _prior(prior_sd: float = estimate.DEFAULT_PRIOR_SD) -> dict[str, float]:
    return {"score": 0.0, "information": 1.0 / prior_sd**2}


# -- the choice -----------------------------------------------------------------------------


def record_choice(
    *,
    session: Session,
    round_id: int,
    voter_id: int,
    left_idea_id: int,
    right_idea_id: int,
    outcome: str,
    now: datetime,
    status: str = ChoiceStatus.COUNTED,
    status_reason: str | None = None,
    signals: ChoiceSignals | None = None,
) -> Recorded:
    """Store one judgement; a counted one moves both ideas' statistics. Idempotent per
    (round, voter, pair): a second judgement of the pair, or a retried request, changes
    nothing and answers ALREADY_JUDGED."""
    if left_idea_id == right_idea_id or outcome not in tuple(Outcome):
        return Recorded.INVALID
    if status not in tuple(ChoiceStatus):
        raise ValueError(f"unknown status {status!r}")
    pair = sorted((left_idea_id, right_idea_id))
    both = session.execute(
        select(STATS.c.idea_id, STATS.c.score, STATS.c.information).where(
            offered(round_id), STATS.c.idea_id.in_(pair)
        )
    ).all()
    if len(both) != 2:
        return Recorded.NOT_IN_ROUND
    signals = signals or ChoiceSignals()
    inserted = session.execute(
        _insert(session)(CHOICES)
        .values(
            round_id=round_id,
            voter_id=voter_id,
            left_idea_id=left_idea_id,
            right_idea_id=right_idea_id,
            low_idea_id=pair[0],
            high_idea_id=pair[1],
            outcome=outcome,
            status=status,
            status_reason=status_reason,
            cast_at=now,
            ip_hash=signals.ip_hash,
            ip_prefix_hash=signals.ip_prefix_hash,
            device_id=signals.device_id,
            user_agent=signals.user_agent,
            risk_score=signals.risk_score,
            risk_signals=signals.risk_signals,
        )
        .on_conflict_do_nothing(
            index_elements=["round_id", "voter_id", "low_idea_id", "high_idea_id"]
        )
        .returning(CHOICES.c.id)
    ).first()
    if inserted is None:
        return Recorded.ALREADY_JUDGED
    if status == ChoiceStatus.COUNTED:
        state = {row.idea_id: (row.score, row.information) for row in both}
        share = estimate.share_of(outcome)
        _count(session, round_id, left_idea_id, right_idea_id, share, state, sign=1)
    return Recorded.RECORDED


def _count(
    session: Session,
    round_id: int,
    left: int,
    right: int,
    share: float,
    state: dict[int, tuple[float, float]] | None,
    *,
    sign: int,
) -> None:
    """Add (sign=1) or take away (sign=-1) one choice from both ideas' statistics; when
    adding with the ideas' current `state`, also move their scores by one Newton step."""
    steps: dict[int, tuple[float, float]] = {}
    if state is not None and share != 0.5:  # a tie moves no score (estimate.DEFAULT_TIES)
        (score_l, info_l), (score_r, info_r) = state[left], state[right]
        p = 0.5 * (1.0 + math.tanh(0.5 * (score_l - score_r)))  # σ(score_l - score_r)
        gain = p * (1.0 - p)
        steps[left] = ((share - p) / (info_l + gain), gain)
        steps[right] = ((p - share) / (info_r + gain), gain)
    for idea_id, own_share in sorted([(left, share), (right, 1.0 - share)]):
        score_step, gain = steps.get(idea_id, (0.0, 0.0))
        session.execute(
            update(STATS)
            .where(STATS.c.round_id == round_id, STATS.c.idea_id == idea_id)
            .values(
                comparisons=STATS.c.comparisons + sign,
                wins=STATS.c.wins + (sign if own_share == 1.0 else 0),
                losses=STATS.c.losses + (sign if own_share == 0.0 else 0),
                ties=STATS.c.ties + (sign if own_share == 0.5 else 0),
                score=STATS.c.score + score_step,
                information=STATS.c.information + gain,
            )
        )


def change_status(
    *, session: Session, choice_id: int, status: str, reason: str | None = None
) -> bool:
    """Hold, void or release (count) a choice; the ideas' counts follow. Scores move only at
    the next `rebuild_statistics` (a running score cannot be taken back exactly). Returns
    False when the choice was already in that status."""
    if status not in tuple(ChoiceStatus):
        raise ValueError(f"unknown status {status!r}")
    row = session.execute(
        select(
            CHOICES.c.round_id,
            CHOICES.c.left_idea_id,
            CHOICES.c.right_idea_id,
            CHOICES.c.outcome,
            CHOICES.c.status,
        ).where(CHOICES.c.id == choice_id)
    ).one()
    if status == row.status:
        return False
    changed = session.execute(
        update(CHOICES)
        .where(CHOICES.c.id == choice_id, CHOICES.c.status == row.status)
        .values(status=status, status_reason=reason)
        .returning(CHOICES.c.id)
    ).first()
    if changed is None:  # another transaction changed it first
        return False
    was, now_counted = row.status == ChoiceStatus.COUNTED, status == ChoiceStatus.COUNTED
    if was != now_counted:
        share = estimate.share_of(row.outcome)
        sign = 1 if now_counted else -1
        _count(session, row.round_id, row.left_idea_id, row.right_idea_id, share, None, sign=sign)
    return True


# -- the full estimate ----------------------------------------------------------------------


@dataclass(frozen=True)
class Ranking:
    """The estimate of a round, with the idea id of each index."""

    idea_ids: np.ndarray[Any, np.dtype[np.int64]]
    estimate: estimate.Estimate


def counted_choices(
    *, session: Session, round_id: int
) -> tuple[np.ndarray[Any, np.dtype[np.int64]], ...]:
    """(left idea ids, right idea ids, outcome codes 0 left / 1 right / 2 tie) of the round's
    counted choices, read in chunks into arrays (a few bytes per choice, not a row object)."""
    code = {Outcome.LEFT.value: 0, Outcome.RIGHT.value: 1, Outcome.TIE.value: 2}
    result = session.execute(
        select(CHOICES.c.left_idea_id, CHOICES.c.right_idea_id, CHOICES.c.outcome)
        .where(CHOICES.c.round_id == round_id, CHOICES.c.status == ChoiceStatus.COUNTED)
        .execution_options(yield_per=STREAM_CHUNK)
    )
    lefts, rights, outcomes = [], [], []
    for chunk in result.partitions():
        lefts.append(np.fromiter((r[0] for r in chunk), dtype=np.int64, count=len(chunk)))
        rights.append(np.fromiter((r[1] for r in chunk), dtype=np.int64, count=len(chunk)))
        outcomes.append(np.fromiter((code[r[2]] for r in chunk), dtype=np.int64, count=len(chunk)))
    empty = np.zeros(0, dtype=np.int64)
    return tuple(np.concatenate(parts) if parts else empty for parts in (lefts, rights, outcomes))


def rank_round(
    *,
    session: Session,
    round_id: int,
    prior_sd: float = estimate.DEFAULT_PRIOR_SD,
    ties: estimate.Ties = estimate.DEFAULT_TIES,
) -> Ranking:
    """The full Bradley-Terry estimate of every idea with statistics in the round (active or
    not) from its counted choices."""
    idea_ids = np.array(
        session.execute(
            select(STATS.c.idea_id).where(STATS.c.round_id == round_id).order_by(STATS.c.idea_id)
        )
        .scalars()
        .all(),
        dtype=np.int64,
    )
    left_ids, right_ids, codes = counted_choices(session=session, round_id=round_id)
    left, right = np.searchsorted(idea_ids, left_ids), np.searchsorted(idea_ids, right_ids)
    shares = np.array([1.0, 0.0, 0.5])[codes]
    fitted = estimate.fit(len(idea_ids), left, right, shares, prior_sd=prior_sd, ties=ties)
    return Ranking(idea_ids=idea_ids, estimate=fitted)


def rebuild_statistics(
    *,
    session: Session,
    round_id: int,
    prior_sd: float = estimate.DEFAULT_PRIOR_SD,
    ties: estimate.Ties = estimate.DEFAULT_TIES,
) -> Ranking:
    """Recount every idea's statistics from the log and replace the running scores by the
    full estimate (after fraud review, or periodically as a job)."""
    ranking = rank_round(session=session, round_id=round_id, prior_sd=prior_sd, ties=ties)
    save_ranking(session=session, round_id=round_id, ranking=ranking)
    return ranking


def save_ranking(*, session: Session, round_id: int, ranking: Ranking) -> None:
    """Replace the statistics of the ranking's ideas (those with a statistics row) by its
    counts and full estimate: after a rebuild, or the certified count of a closed round."""
    fitted = ranking.estimate
    rows = [
        {
            "b_idea_id": int(idea_id),
            "comparisons": int(fitted.comparisons[i]),
            "wins": int(fitted.wins[i]),
            "losses": int(fitted.losses[i]),
            "ties": int(fitted.ties[i]),
            "score": float(fitted.scores[i]),
            "information": float(1.0 / fitted.std_errors[i] ** 2),
        }
        for i, idea_id in enumerate(ranking.idea_ids)
    ]
    if rows:
        session.execute(
            update(STATS).where(
                STATS.c.round_id == round_id,
                STATS.c.idea_id == bindparam("b_idea_id", type_=Integer()),
            ),
            rows,
        )
