"""Send an idea back to its author with what to change: it becomes a draft again, and comes
back to the queue when the author submits it (see `moderation.screening`)."""

from __future__ import annotations

from sqlmodel import Session

from cocreate.accounts.models import User
from cocreate.brands.models import Brand
from cocreate.clock import Clock, system_clock
from cocreate.i18n import gettext as _
from cocreate.ideas.models import IdeaStatus
from cocreate.moderation.decisions.case import Decided, open_case, settle_and_tell
from cocreate.moderation.models import Action
from cocreate.moderation.rules import Refused


def request_changes(
    *,
    session: Session,
    brand: Brand,
    idea_id: int,
    actor: User,
    note: str,
    reason: str = "",
    base_url: str = "",
    clock: Clock = system_clock,
) -> Decided:
    """Return one idea to its author with `note` (what to change), or raise Refused. Commits."""
    action = Action.REQUEST_CHANGES
    case = open_case(
        session, brand=brand, idea_id=idea_id, actor=actor, action=action, now=clock.now()
    )
    if not note:
        raise Refused(_("Tell the author what to change."), 400)
    return settle_and_tell(
        session,
        case,
        action=action,
        status_after=IdeaStatus.DRAFT,
        reason=reason,
        note=note,
        mail_template="moderation_changes_requested",
        base_url=base_url,
    )
