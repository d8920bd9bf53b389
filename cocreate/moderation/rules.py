"""Which decision an idea allows, and who may make it.

An idea comes to moderators while it is pending, reported (approved with open reports), or
rejected automatically (a moderator may overturn the pre-screen); an escalated one waits for
a brand owner. `refusal` says why an action cannot be done, in the user's language.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from cocreate.accounts.models import User
from cocreate.brands.models import Brand, Membership, Role
from cocreate.campaigns.models import Campaign
from cocreate.i18n import gettext as _
from cocreate.ideas.models import Idea, IdeaStatus
from cocreate.moderation.history import last_decision
from cocreate.moderation.models import (
    Action,
    FlagKind,
    ModerationFlag,
    Report,
    ReportStatus,
)

UNDO_SECONDS = 30

# Which statuses each decision may start from. Approving or rejecting an approved idea is
# how a moderator settles its reports; a rejected idea can be approved when the rejection
# was automatic (overturning the pre-screen).
DECISIONS_FROM: dict[Action, tuple[str, ...]] = {
    Action.APPROVE: (IdeaStatus.PENDING, IdeaStatus.APPROVED, IdeaStatus.REJECTED),
    Action.REJECT: (IdeaStatus.PENDING, IdeaStatus.APPROVED),
    Action.REQUEST_CHANGES: (IdeaStatus.PENDING, IdeaStatus.APPROVED),
    Action.MERGE: (IdeaStatus.PENDING, IdeaStatus.APPROVED),
    Action.ESCALATE: (IdeaStatus.PENDING, IdeaStatus.APPROVED),
}
STATUS_AFTER: dict[Action, str | None] = {
    Action.APPROVE: IdeaStatus.APPROVED,
    Action.REJECT: IdeaStatus.REJECTED,
    Action.REQUEST_CHANGES: IdeaStatus.DRAFT,
    Action.MERGE: IdeaStatus.MERGED,
    Action.ESCALATE: None,  # unchanged
}
# Decisions that settle an item (its reports, its flags, its claim); escalation does not.
SETTLING = (Action.APPROVE, Action.REJECT, Action.REQUEST_CHANGES, Action.MERGE)
UNDOABLE = (*SETTLING, Action.ESCALATE)


class Refused(Exception):
    """The action cannot be done; `message` is already in the user's language."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def is_owner(*, session: Session, user: User, brand: Brand) -> bool:
    if user.is_admin:
        return True
    role = session.exec(
        select(Membership.role).where(
            Membership.brand_id == brand.id, Membership.user_id == user.id
        )
    ).first()
    return role == Role.OWNER


def idea_in_brand(*, session: Session, brand: Brand, idea_id: int) -> tuple[Idea, Campaign] | None:
    row = session.exec(
        select(Idea, Campaign)
        .join(Campaign, col(Campaign.id) == col(Idea.campaign_id))
        .where(Idea.id == idea_id, Campaign.brand_id == brand.id)
    ).first()
    return (row[0], row[1]) if row else None


def has_open_escalation(*, session: Session, idea_id: int) -> bool:
    return (
        session.exec(
            select(ModerationFlag.id).where(
                ModerationFlag.idea_id == idea_id,
                ModerationFlag.kind == FlagKind.ESCALATED,
                col(ModerationFlag.resolved_by_id).is_(None),
            )
        ).first()
        is not None
    )


def _has_open_reports(session: Session, idea_id: int) -> bool:
    return (
        session.exec(
            select(Report.id).where(Report.idea_id == idea_id, Report.status == ReportStatus.OPEN)
        ).first()
        is not None
    )


@dataclass(frozen=True)
class ItemState:
    """What decides which actions an idea allows, read in one go."""

    status: str
    open_reports: bool
    last_decision_automatic: bool
    escalated: bool


def item_state(session: Session, idea: Idea) -> ItemState:
    assert idea.id is not None
    last = last_decision(session, idea.id) if idea.status == IdeaStatus.REJECTED else None
    return ItemState(
        status=idea.status,
        open_reports=idea.status == IdeaStatus.APPROVED and _has_open_reports(session, idea.id),
        last_decision_automatic=last is not None and last.automatic,
        escalated=has_open_escalation(session=session, idea_id=idea.id),
    )


def refusal(state: ItemState, action: Action, *, actor_is_owner: bool) -> Refused | None:
    """Why `action` cannot be done on an idea in `state` (in the user's language), or None."""
    if state.status not in DECISIONS_FROM[action]:
        return Refused(_("This idea has already been decided."))
    if state.status == IdeaStatus.APPROVED and not state.open_reports:
        # An approved idea comes back to moderators only through reports.
        return Refused(_("This idea has already been decided."))
    if state.status == IdeaStatus.REJECTED and not state.last_decision_automatic:
        return Refused(_("This idea has already been decided."))
    if action == Action.ESCALATE and state.escalated:
        return Refused(_("This idea is already escalated to the brand owner."))
    if action != Action.ESCALATE and not actor_is_owner and state.escalated:
        return Refused(_("This idea was escalated: only a brand owner can decide it."), 403)
    return None


def is_actionable(*, session: Session, idea: Idea, by_owner: bool = True) -> bool:
    """Whether the idea waits for a decision (pending, reported, or rejected automatically)
    that this person may make (escalated ideas wait for an owner)."""
    return refusal(item_state(session, idea), Action.APPROVE, actor_is_owner=by_owner) is None
