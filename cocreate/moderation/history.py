"""What was decided about an idea: its decisions with who made them, the last one, the change
a moderator asked its author for, and the authors of duplicates merged into it; and the
record of what was decided automatically (the pre-screen, a resubmission, reports)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from cocreate.accounts.models import User
from cocreate.brands.models import Role
from cocreate.ideas.models import Idea, IdeaStatus
from cocreate.moderation.models import Action, MergeCredit, ModerationDecision

# Who sees an idea's history: on its page, and at its own address (the moderation routes).
HISTORY_ROLES = (Role.OWNER, Role.MODERATOR, Role.MARKETER)


def last_decision(session: Session, idea_id: int) -> ModerationDecision | None:
    return session.exec(
        select(ModerationDecision)
        .where(ModerationDecision.idea_id == idea_id)
        .order_by(col(ModerationDecision.id).desc())
        .limit(1)
    ).first()


@dataclass
class HistoryRow:
    decision: ModerationDecision
    actor_name: str | None  # None: automatic
    undone: bool


def history(*, session: Session, idea_id: int) -> list[HistoryRow]:
    """Every decision on an idea, oldest first, with who made it."""
    decisions = session.exec(
        select(ModerationDecision, User.display_name)
        .join(User, col(User.id) == col(ModerationDecision.actor_id), isouter=True)
        .where(ModerationDecision.idea_id == idea_id)
        .order_by(col(ModerationDecision.id))
    ).all()
    undone = {d.undoes_id for d, _name in decisions if d.undoes_id is not None}
    return [
        HistoryRow(
            decision=d, actor_name=None if d.automatic else (name or ""), undone=d.id in undone
        )
        for d, name in decisions
    ]


def changes_requested(*, session: Session, idea_id: int) -> ModerationDecision | None:
    """The moderator's change request an idea is waiting on (its `note` is the message)."""
    last = last_decision(session, idea_id)
    if last is None or last.action != Action.REQUEST_CHANGES:
        return None
    idea = session.get(Idea, idea_id)
    return last if idea is not None and idea.status == IdeaStatus.DRAFT else None


def credited_authors(*, session: Session, idea_id: int) -> list[User]:
    """Authors of duplicates merged into this idea, credited alongside its own author."""
    return list(
        session.exec(
            select(User)
            .join(MergeCredit, col(MergeCredit.user_id) == col(User.id))
            .where(MergeCredit.target_idea_id == idea_id)
            .order_by(col(MergeCredit.id))
        ).all()
    )


def record_automatic(
    session: Session,
    *,
    brand_id: int,
    idea: Idea,
    action: Action,
    status_after: str,
    now: datetime,
    reason: str = "",
    actor_id: int | None = None,
    effects: dict[str, Any] | None = None,
) -> ModerationDecision:
    decision = ModerationDecision(
        brand_id=brand_id,
        idea_id=idea.id or 0,
        actor_id=actor_id,
        automatic=actor_id is None,
        action=action,
        reason=reason,
        status_before=idea.status,
        status_after=status_after,
        effects=effects or {},
        at=now,
    )
    session.add(decision)
    session.flush()
    return decision
