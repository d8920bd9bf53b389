"""Fraud cases: the certification gate and the moderators' decisions on a case.

What the scan finds is stored as cases by `findings` (the round's log read by `loader`, the
evidence made safe to show by `evidence`); the review pages read them through `review`.
Decisions change votes through the vote store (`cocreate.voting.store`: void, restore), in
one transaction with the case, so the live tally always equals a recount:

- void: counted and held votes of the case become `void` (the previous status is kept on the
  case-vote row); counted ones leave the tally;
- restore: undoes a void exactly; votes that were counted count again;
- clear: no fraud, nothing changes but the case;
- suspend: the case's accounts are disabled and signed out (reversible: unsuspend).

Every decision is a conditional UPDATE of the case's status, so two moderators deciding the
same case at once give exactly one decision. A certified round's votes never change.
"""

from __future__ import annotations

# `X as X`: what the review pages, the scan command and certification reach through this
# module, re-exported from the modules it was split into.
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select as core_select
from sqlalchemy import update
from sqlmodel import Session, col, select

from cocreate.accounts.models import User
from cocreate.audit.service import record
from cocreate.db import begin_write
from cocreate.fraud.findings import StoreSummary as StoreSummary
from cocreate.fraud.findings import scan_round as scan_round
from cocreate.fraud.findings import store_findings as store_findings
from cocreate.fraud.loader import RoundLog as RoundLog
from cocreate.fraud.loader import load_round_log as load_round_log
from cocreate.fraud.loader import read_round_log as read_round_log
from cocreate.fraud.models import CaseStatus, FraudCase, FraudCaseVote
from cocreate.fraud.review import MAX_LISTED as MAX_LISTED
from cocreate.fraud.review import CaseRow as CaseRow
from cocreate.fraud.review import RoundChoice as RoundChoice
from cocreate.fraud.review import brand_rounds as brand_rounds
from cocreate.fraud.review import case_detail as case_detail
from cocreate.fraud.review import get_case as get_case
from cocreate.fraud.review import kind_label as kind_label
from cocreate.fraud.review import list_cases as list_cases
from cocreate.fraud.review import signal_label as signal_label
from cocreate.fraud.review import status_label as status_label
from cocreate.i18n import gettext as _
from cocreate.voting import store
from cocreate.voting.models import Round, VoteStatus

# An open case scoring at least this blocks the certification of its round until a moderator
# decides it (void or clear). Below it, a case is shown for review but does not block.
GATE_SCORE = 0.5

ID_BATCH = 5_000  # ids per IN (...) list
REASON_MAX = 500

CASES = FraudCase.__table__  # type: ignore[attr-defined]
CASE_VOTES = FraudCaseVote.__table__  # type: ignore[attr-defined]
USERS = User.__table__  # type: ignore[attr-defined]


class Refused(Exception):
    """The decision cannot be made; `message` is already in the user's language."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _id(value: int | None) -> int:
    assert value is not None, "flushed rows have ids"
    return value


def _batches(values: Sequence[int], size: int = ID_BATCH) -> Iterable[Sequence[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


# --- The certification gate ------------------------------------------------------------------


def blocking_cases(*, session: Session, round_id: int) -> list[FraudCase]:
    """Open cases of the round that score at least `GATE_SCORE`, highest first."""
    return list(
        session.exec(
            select(FraudCase)
            .where(
                FraudCase.round_id == round_id,
                FraudCase.status == CaseStatus.OPEN,
                FraudCase.score >= GATE_SCORE,
            )
            .order_by(col(FraudCase.score).desc(), col(FraudCase.id))
        ).all()
    )


# --- Decisions -------------------------------------------------------------------------------


def _reason(reason: str) -> str:
    cleaned = " ".join(reason.split())[:REASON_MAX]
    if not cleaned:
        raise Refused(_("Give a reason: it is kept with the decision."), status=400)
    return cleaned


def _optional(reason: str) -> str | None:
    return " ".join(reason.split())[:REASON_MAX] or None


def lock_round(session: Session, round_id: int, *, refused_if_certified: str | None) -> Round:
    """The round, share-locked on PostgreSQL so that certification (which takes the row
    for update) waits for this decision, and this decision for certification. With
    `refused_if_certified`, a certified round rolls back and refuses with that message."""
    found = session.exec(
        select(Round)
        .where(Round.id == round_id)
        .with_for_update(read=True)
        .execution_options(populate_existing=True)
    ).one()
    if refused_if_certified is not None and found.certified_at is not None:
        session.rollback()
        raise Refused(refused_if_certified)
    return found


def _certified_votes_stay() -> str:
    return _(
        "The results of this round are certified: its votes can no longer change. "
        "The case can still be cleared, and its accounts suspended."
    )


def _decide(
    session: Session,
    case: FraudCase,
    *,
    from_status: CaseStatus,
    to_status: CaseStatus,
    actor_id: int,
    reason: str | None,
    now: datetime,
) -> None:
    """The conditional UPDATE that lets exactly one of two racing moderators decide."""
    changed = session.execute(
        update(CASES)
        .where(CASES.c.id == case.id, CASES.c.status == from_status.value)
        .values(
            status=to_status.value,
            decided_by_id=actor_id,
            decided_at=now,
            decision_reason=reason,
        )
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise Refused(_("Someone else has just decided this case. Here is its current state."))


def _case_votes(case_id: int, previous: str | None = None) -> Any:
    """The ids of the case's votes (whose status before the void was `previous`)."""
    chosen = core_select(CASE_VOTES.c.vote_id).where(CASE_VOTES.c.case_id == case_id)
    if previous is not None:
        chosen = chosen.where(CASE_VOTES.c.previous_status == previous)
    return chosen


def _mark_previous(session: Session, case_id: int, vote_ids: Sequence[int], status: str) -> None:
    for batch in _batches(sorted(vote_ids)):
        session.execute(
            update(CASE_VOTES)
            .where(CASE_VOTES.c.case_id == case_id, CASE_VOTES.c.vote_id.in_(batch))
            .values(previous_status=status)
        )


@dataclass(frozen=True)
class Decision:
    case: FraudCase
    votes_changed: int
    accounts_changed: int = 0


def void_case(
    *, session: Session, case: FraudCase, actor_id: int, reason: str, now: datetime
) -> Decision:
    """Void the case's live votes; counted ones leave the tally in the same transaction."""
    reason = _reason(reason)
    case_id = _id(case.id)
    begin_write(session)
    lock_round(session, case.round_id, refused_if_certified=_certified_votes_stay())
    _decide(
        session,
        case,
        from_status=CaseStatus.OPEN,
        to_status=CaseStatus.VOIDED,
        actor_id=actor_id,
        reason=reason,
        now=now,
    )
    status_reason = (_("Fraud case %(id)d: %(reason)s") % {"id": case_id, "reason": reason})[:300]
    # One change per previous status, each returning the votes it changed: under PostgreSQL's
    # row locks a vote withdrawn at the same moment is either voided here (and its withdrawal
    # then sees "void" and leaves the tally alone) or skipped here, never counted out twice.
    counted, held = (
        store.void(
            session,
            round_id=case.round_id,
            from_status=status,
            reason=status_reason,
            vote_ids=_case_votes(case_id),
        )
        for status in (VoteStatus.COUNTED, VoteStatus.HELD)
    )
    _mark_previous(session, case_id, [v.vote_id for v in counted], VoteStatus.COUNTED.value)
    _mark_previous(session, case_id, [v.vote_id for v in held], VoteStatus.HELD.value)
    record(
        session=session,
        actor_id=actor_id,
        action="fraud_case.voided",
        subject_type="fraud_case",
        subject_id=case_id,
        round_id=case.round_id,
        counted_voided=len(counted),
        held_voided=len(held),
        reason=reason,
    )
    session.commit()
    session.refresh(case)
    return Decision(case, len(counted) + len(held))


def restore_case(
    *, session: Session, case: FraudCase, actor_id: int, reason: str, now: datetime
) -> Decision:
    """Undo a void: each vote gets back the status it had; the case is open again."""
    note = _optional(reason)
    case_id = _id(case.id)
    begin_write(session)
    lock_round(session, case.round_id, refused_if_certified=_certified_votes_stay())
    _decide(
        session,
        case,
        from_status=CaseStatus.VOIDED,
        to_status=CaseStatus.OPEN,
        actor_id=actor_id,
        reason=note,
        now=now,
    )
    counted, held = (
        store.restore(
            session,
            round_id=case.round_id,
            to_status=status,
            vote_ids=_case_votes(case_id, status.value),
        )
        for status in (VoteStatus.COUNTED, VoteStatus.HELD)
    )
    session.execute(
        update(CASE_VOTES).where(CASE_VOTES.c.case_id == case_id).values(previous_status=None)
    )
    record(
        session=session,
        actor_id=actor_id,
        action="fraud_case.restored",
        subject_type="fraud_case",
        subject_id=case_id,
        round_id=case.round_id,
        counted_restored=len(counted),
        held_restored=len(held),
        reason=note,
    )
    session.commit()
    session.refresh(case)
    return Decision(case, len(counted) + len(held))


def clear_case(
    *, session: Session, case: FraudCase, actor_id: int, reason: str, now: datetime
) -> Decision:
    """Not fraud: the votes stay as they are; the case no longer blocks certification."""
    note = _optional(reason)
    case_id = _id(case.id)
    begin_write(session)
    _decide(
        session,
        case,
        from_status=CaseStatus.OPEN,
        to_status=CaseStatus.CLEARED,
        actor_id=actor_id,
        reason=note,
        now=now,
    )
    record(
        session=session,
        actor_id=actor_id,
        action="fraud_case.cleared",
        subject_type="fraud_case",
        subject_id=case_id,
        round_id=case.round_id,
        reason=note,
    )
    session.commit()
    session.refresh(case)
    return Decision(case, 0)


def suspend_accounts(
    *, session: Session, case: FraudCase, actor_id: int, reason: str, now: datetime
) -> Decision:
    """Disable the case's accounts and sign them out everywhere (session_version moves).

    Administrators and the acting moderator are never suspended this way.
    """
    reason = _reason(reason)
    case_id = _id(case.id)
    begin_write(session)
    fresh = session.exec(
        select(FraudCase).where(FraudCase.id == case_id).execution_options(populate_existing=True)
    ).one()
    suspended: list[int] = []
    for batch in _batches(sorted(fresh.voter_ids)):
        rows = session.execute(
            update(USERS)
            .where(
                USERS.c.id.in_(batch),
                USERS.c.id != actor_id,
                USERS.c.is_admin.is_(False),
                USERS.c.disabled.is_(False),
            )
            .values(disabled=True, session_version=USERS.c.session_version + 1)
            .returning(USERS.c.id)
        ).all()
        suspended.extend(int(r[0]) for r in rows)
    fresh.suspended_ids = sorted(set(fresh.suspended_ids) | set(suspended))
    session.add(fresh)
    record(
        session=session,
        actor_id=actor_id,
        action="fraud_case.accounts_suspended",
        subject_type="fraud_case",
        subject_id=case_id,
        round_id=case.round_id,
        user_ids=suspended,
        reason=reason,
        at=now.isoformat(),
    )
    session.commit()
    session.refresh(case)
    return Decision(case, 0, len(suspended))


def unsuspend_accounts(
    *, session: Session, case: FraudCase, actor_id: int, reason: str, now: datetime
) -> Decision:
    """Enable again the accounts this case suspended."""
    reason = " ".join(reason.split())[:REASON_MAX]
    case_id = _id(case.id)
    begin_write(session)
    fresh = session.exec(
        select(FraudCase).where(FraudCase.id == case_id).execution_options(populate_existing=True)
    ).one()
    restored: list[int] = []
    for batch in _batches(sorted(fresh.suspended_ids)):
        rows = session.execute(
            update(USERS)
            .where(USERS.c.id.in_(batch), USERS.c.disabled.is_(True))
            .values(disabled=False)
            .returning(USERS.c.id)
        ).all()
        restored.extend(int(r[0]) for r in rows)
    fresh.suspended_ids = []
    session.add(fresh)
    record(
        session=session,
        actor_id=actor_id,
        action="fraud_case.accounts_unsuspended",
        subject_type="fraud_case",
        subject_id=case_id,
        round_id=case.round_id,
        user_ids=restored,
        reason=reason or None,
        at=now.isoformat(),
    )
    session.commit()
    session.refresh(case)
    return Decision(case, 0, len(restored))
