"""Votes held by the layer-1 policy, and the moderators' decision on them.

Layer 1 stores a vote `held` when its risk score falls in the policy's middle band with
`middle = "hold"`, and for ranked ballots in that band. A held vote is not counted until a
moderator decides it here:

- count (release): `held` → `counted`, and the idea's `idea_tallies` row takes the vote in the
  same transaction, so the live tally always equals a recount;
- void: `held` → `void`, kept in the log.

Decisions are per voter (all of the voter's live held votes in the round) or for several
voters at once, made by the vote store (`store.release`, `store.void`): each is one
conditional UPDATE `WHERE status = 'held'` with RETURNING, so two
moderators deciding the same votes at once give exactly one decision per vote; a voter
withdrawing a held vote at the same moment is either decided here or skipped here. The round
row is share-locked as for fraud cases: a certified round's votes never change.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from cocreate.accounts.models import User
from cocreate.audit.service import record
from cocreate.db import begin_write
from cocreate.fraud.cases import Refused, _optional, _reason, lock_round
from cocreate.i18n import gettext as _
from cocreate.ideas.models import Idea
from cocreate.integers import id_or_none, int_or_none
from cocreate.voting import store
from cocreate.voting.models import Vote, VoteStatus

PAGE_SIZE = 50  # voters per page
MAX_VOTERS_PER_DECISION = 500  # voters ticked in one bulk decision

ACTIONS = ("count", "void")
VOTES = Vote.__table__  # type: ignore[attr-defined]


def _held(round_id: int) -> Any:
    """Live held votes of the round (a withdrawn vote is history, not a vote to decide)."""
    return and_(
        VOTES.c.round_id == round_id,
        VOTES.c.status == VoteStatus.HELD.value,
        VOTES.c.withdrawn_at.is_(None),
    )


def held_count(*, session: Session, round_id: int) -> int:
    """Live held votes of the round: the certification gate's count (the partial index)."""
    found = session.execute(core_select(func.count()).where(_held(round_id))).scalar_one()
    return int(found)


@dataclass(frozen=True)
class HeldTotals:
    votes: int
    voters: int


def held_totals(*, session: Session, round_id: int) -> HeldTotals:
    votes, voters = session.execute(
        core_select(func.count(), func.count(func.distinct(VOTES.c.voter_id))).where(
            _held(round_id)
        )
    ).one()
    return HeldTotals(int(votes), int(voters))


def signal_words(name: str) -> str:
    """A layer-1 risk signal in the moderator's words."""
    words = {
        "unverified_email": _("email not confirmed"),
        "new_account": _("new account"),
        "disposable_email": _("disposable email domain"),
        "empty_user_agent": _("no browser identification"),
        "scripted_user_agent": _("scripted client (user agent)"),
        "shared_network": _("many votes from one network"),
        "shared_device": _("many votes from one device"),
        "velocity": _("voting very fast"),
        "mailbox_siblings": _("other accounts of the same mailbox voted"),
    }
    return words.get(name, name)


@dataclass(frozen=True)
class HeldVote:
    vote_id: int
    idea_id: int
    idea_title: str
    cast_at: datetime
    weight: int
    risk: int  # 0..100
    signals: list[tuple[str, int]]  # (words, contribution 0..100), strongest first
    reason: str | None


@dataclass(frozen=True)
class HeldVoter:
    user_id: int
    display_name: str
    age_days: int
    verified: bool
    disabled: bool
    first_at: datetime
    votes: list[HeldVote]


@dataclass(frozen=True)
class HeldPage:
    voters: list[HeldVoter]
    next_after: str | None  # keyset cursor of the next page


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
LATEST_MICROS = (datetime(9999, 12, 31, tzinfo=UTC) - EPOCH) // MICROSECOND


def cursor(first_at: datetime, voter_id: int) -> str:
    # Whole microseconds, not a float timestamp: the next page must start exactly after it.
    return f"{(first_at - EPOCH) // MICROSECOND}-{voter_id}"


def parse_cursor(value: str | None) -> tuple[datetime, int] | None:
    if not value or len(value) > 40:
        return None
    micros, _sep, voter = value.partition("-")
    at = int_or_none(micros, minimum=0, maximum=LATEST_MICROS)
    voter_id = id_or_none(voter)
    if at is None or voter_id is None:
        return None  # not one of ours: the first page
    return EPOCH + at * MICROSECOND, voter_id


def _signals(raw: Any) -> list[tuple[str, int]]:
    if not isinstance(raw, dict):
        return []
    pairs = [
        (signal_words(str(k)), round(float(v) * 100))
        for k, v in raw.items()
        if isinstance(v, int | float)
    ]
    return sorted(pairs, key=lambda p: (-p[1], p[0]))


def held_page(
    *,
    session: Session,
    round_id: int,
    now: datetime,
    after: tuple[datetime, int] | None = None,
    limit: int = PAGE_SIZE,
) -> HeldPage:
    """The round's held votes grouped by voter, the voter whose first held vote is oldest
    first; keyset-paged on (first held vote time, voter id)."""
    first = func.min(VOTES.c.cast_at)
    groups = core_select(VOTES.c.voter_id, first).where(_held(round_id)).group_by(VOTES.c.voter_id)
    if after is not None:
        at, voter = after
        groups = groups.having(or_(first > at, and_(first == at, VOTES.c.voter_id > voter)))
    rows = session.execute(groups.order_by(first, VOTES.c.voter_id).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    voter_ids = [int(r[0]) for r in rows]
    if not voter_ids:
        return HeldPage([], None)
    votes = session.execute(
        core_select(
            VOTES.c.id,
            VOTES.c.voter_id,
            VOTES.c.idea_id,
            VOTES.c.cast_at,
            VOTES.c.weight,
            VOTES.c.risk_score,
            VOTES.c.risk_signals,
            VOTES.c.status_reason,
        )
        .where(_held(round_id), VOTES.c.voter_id.in_(voter_ids))
        .order_by(VOTES.c.cast_at, VOTES.c.id)
    ).all()
    idea_ids = sorted({int(v[2]) for v in votes})
    titles = {
        i.id: i.title for i in session.exec(select(Idea).where(col(Idea.id).in_(idea_ids))).all()
    }
    users = {u.id: u for u in session.exec(select(User).where(col(User.id).in_(voter_ids))).all()}
    per_voter: dict[int, list[HeldVote]] = defaultdict(list)
    for vote_id, voter_id, idea_id, cast_at, weight, score, signals, reason in votes:
        per_voter[int(voter_id)].append(
            HeldVote(
                vote_id=int(vote_id),
                idea_id=int(idea_id),
                idea_title=str(titles.get(idea_id, "?")),
                cast_at=cast_at,
                weight=int(weight),
                risk=round(float(score) * 100),
                signals=_signals(signals),
                reason=reason,
            )
        )
    voters = []
    for voter_id, first_at in rows:
        user = users.get(voter_id)
        voters.append(
            HeldVoter(
                user_id=int(voter_id),
                display_name=user.display_name if user else "?",
                age_days=max(0, (now - user.created_at).days) if user else 0,
                verified=user.is_verified if user else False,
                disabled=user.disabled if user else False,
                first_at=first_at,
                votes=per_voter[int(voter_id)],
            )
        )
    last = voters[-1]
    return HeldPage(voters, cursor(last.first_at, last.user_id) if more else None)


@dataclass(frozen=True)
class HeldDecision:
    action: str
    votes_changed: int
    voters_changed: int


def decide_held(
    *,
    session: Session,
    round_id: int,
    voter_ids: Sequence[int],
    action: str,
    actor_id: int,
    reason: str,
    now: datetime,
) -> HeldDecision:
    """Count or void the live held votes of these voters in the round."""
    if action not in ACTIONS:
        raise Refused(_("Choose one of the options."), status=400)
    note = _reason(reason) if action == "void" else _optional(reason)
    voters = sorted({int(v) for v in voter_ids})[:MAX_VOTERS_PER_DECISION]
    if not voters:
        raise Refused(_("Tick at least one voter."), status=400)
    begin_write(session)
    lock_round(
        session,
        round_id,
        refused_if_certified=_(
            "The results of this round are certified: its held votes can no longer be "
            "counted or voided."
        ),
    )
    if action == "count":
        status_reason = (
            _("Released by review: %(reason)s") % {"reason": note}
            if note
            else _("Released by review")
        )
        changed = store.release(session, round_id=round_id, voter_ids=voters, reason=status_reason)
    else:
        status_reason = _("Voided by review: %(reason)s") % {"reason": note}
        changed = store.void(
            session,
            round_id=round_id,
            from_status=VoteStatus.HELD,
            reason=status_reason,
            voter_ids=voters,
        )
    if not changed:
        session.rollback()
        raise Refused(
            _(
                "Someone else has just decided these votes, or they were withdrawn. "
                "Here is the list now."
            )
        )
    decided_voters = sorted({vote.voter_id for vote in changed})
    record(
        session=session,
        actor_id=actor_id,
        action="held_votes.counted" if action == "count" else "held_votes.voided",
        subject_type="round",
        subject_id=round_id,
        round_id=round_id,
        user_ids=decided_voters,
        vote_ids=sorted(vote.vote_id for vote in changed),
        reason=note,
        at=now.isoformat(),
    )
    session.commit()
    return HeldDecision(action, len(changed), len(decided_voters))
