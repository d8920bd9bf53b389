"""Approve an idea: it becomes public (a pending idea, or one the pre-screen rejected), or an
approved idea stays public and its reports are dismissed."""

from __future__ import annotations

from sqlmodel import Session

from cocreate.accounts.models import User
from cocreate.brands.models import Brand
from cocreate.clock import Clock, system_clock
from cocreate.ideas.models import IdeaStatus
from cocreate.moderation.decisions.case import Decided, open_case, settle_and_tell
from cocreate.moderation.models import Action


def approve(
    *,
    session: Session,
    brand: Brand,
    idea_id: int,
    actor: User,
    reason: str = "",
    note: str = "",
    clock: Clock = system_clock,
) -> Decided:
    """Approve one idea, or raise Refused. Commits. `reason` and `note` are recorded as given."""
    case = open_case(
        session, brand=brand, idea_id=idea_id, actor=actor, action=Action.APPROVE, now=clock.now()
    )
    return settle_and_tell(
        session,
        case,
        action=Action.APPROVE,
        status_after=IdeaStatus.APPROVED,
        reason=reason,
        note=note,
        mail_template=None,
        base_url="",
    )
