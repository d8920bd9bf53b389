"""Undo a decision within its window: the idea goes back to the status it had, its reports
and flags reopen, mails not yet sent are deleted, a merge's votes and credit go back.

An undo is a decision of its own (`undo`), which names the decision it reverses in a unique
column: at most one undo each, however many moderators click at once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, insert, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from cocreate.accounts.models import User
from cocreate.brands.models import Brand
from cocreate.clock import Clock, system_clock
from cocreate.db import begin_write
from cocreate.i18n import gettext as _
from cocreate.ideas.models import Idea
from cocreate.moderation.decisions.case import Decided
from cocreate.moderation.decisions.merge import restore_votes_and_followers_after_unmerge
from cocreate.moderation.history import last_decision
from cocreate.moderation.models import (
    Action,
    MergeCredit,
    ModerationDecision,
    ModerationFlag,
    Report,
    ReportStatus,
)
from cocreate.moderation.rules import UNDO_SECONDS, UNDOABLE, Refused, is_owner
from cocreate.notifications.models import OutboxEmail


def undo(
    *,
    session: Session,
    brand: Brand,
    decision_id: int,
    actor: User,
    clock: Clock = system_clock,
) -> Decided:
    """Reverse a decision made less than UNDO_SECONDS ago, recording an 'undo'. Commits."""
    now = clock.now()
    assert actor.id is not None
    original = session.get(ModerationDecision, decision_id)
    if original is None or original.brand_id != brand.id:
        raise Refused(_("There is no such decision to undo."), 404)
    if original.actor_id != actor.id and not is_owner(session=session, user=actor, brand=brand):
        raise Refused(_("Only the moderator who decided, or a brand owner, can undo it."), 403)
    if original.action not in UNDOABLE or original.automatic:
        raise Refused(_("This decision cannot be undone."), 400)
    if now - original.at > timedelta(seconds=UNDO_SECONDS):
        raise Refused(_("It is too late to undo this decision."))
    last = last_decision(session, original.idea_id)
    if last is None or last.id != original.id:
        raise Refused(_("This idea has changed since; it cannot be undone now."))
    idea = session.get(Idea, original.idea_id)
    assert idea is not None and original.id is not None
    effects = original.effects or {}

    begin_write(session)
    try:
        undo_id = session.execute(
            insert(ModerationDecision)
            .values(
                brand_id=original.brand_id,
                idea_id=original.idea_id,
                actor_id=actor.id,
                automatic=False,
                action=Action.UNDO,
                reason="",
                note="",
                status_before=original.status_after,
                status_after=original.status_before,
                undoes_id=original.id,
                effects={},
                at=now,
            )
            .returning(col(ModerationDecision.id))
        ).scalar_one()
    except IntegrityError:  # the unique undoes_id: someone undid it a moment ago
        session.rollback()
        raise Refused(_("This decision was already undone.")) from None
    if original.action == Action.ESCALATE:
        guard = session.execute(
            update(ModerationFlag)
            .execution_options(synchronize_session=False)
            .where(
                col(ModerationFlag.id) == effects.get("escalation_flag_id"),
                col(ModerationFlag.resolved_by_id).is_(None),
            )
            .values(resolved_by_id=undo_id)
        )
    else:
        hidden = effects.get("hidden_at")
        guard = session.execute(
            update(Idea)
            .execution_options(synchronize_session=False)
            .where(col(Idea.id) == original.idea_id, col(Idea.status) == original.status_after)
            .values(
                status=original.status_before,
                merged_into_id=None,
                hidden_at=datetime.fromisoformat(hidden) if hidden else None,
                updated_at=now,
            )
        )
    if guard.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise Refused(_("This idea has changed since; it cannot be undone now."))
    session.execute(
        update(Report)
        .execution_options(synchronize_session=False)
        .where(col(Report.resolved_by_id) == original.id)
        .values(status=ReportStatus.OPEN, resolved_by_id=None)
    )
    session.execute(
        update(ModerationFlag)
        .execution_options(synchronize_session=False)
        .where(col(ModerationFlag.resolved_by_id) == original.id)
        .values(resolved_by_id=None)
    )
    mails = [m for m in effects.get("mails", []) if isinstance(m, int)]
    if mails:
        session.execute(
            delete(OutboxEmail).where(
                col(OutboxEmail.id).in_(mails), col(OutboxEmail.sent_at).is_(None)
            )
        )
    if isinstance(effects.get("credit_id"), int):
        session.execute(delete(MergeCredit).where(col(MergeCredit.id) == effects["credit_id"]))
    if original.action == Action.MERGE and original.merged_into_id is not None:
        try:
            restore_votes_and_followers_after_unmerge(
                session=session,
                source=idea,
                target_idea_id=original.merged_into_id,
                moved=effects.get("votes") or {},
            )
        except IntegrityError:
            session.rollback()
            raise Refused(_("This idea has changed since; it cannot be undone now.")) from None
    session.commit()
    decision = session.get(ModerationDecision, undo_id)
    assert decision is not None
    session.refresh(idea)
    return Decided(decision=decision, idea=idea)
