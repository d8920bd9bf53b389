"""Reject an idea for one of the brand's reasons (an approved one after reports upholds them);
its author gets a mail saying why once the undo window has passed."""

from __future__ import annotations

from sqlmodel import Session

from cocreate.accounts.models import User
from cocreate.brands.models import Brand
from cocreate.clock import Clock, system_clock
from cocreate.i18n import gettext as _
from cocreate.ideas.models import IdeaStatus
from cocreate.moderation.brand_settings import reason_choices
from cocreate.moderation.decisions.case import Decided, open_case, settle_and_tell
from cocreate.moderation.models import Action
from cocreate.moderation.rules import Refused


def reject(
    *,
    session: Session,
    brand: Brand,
    idea_id: int,
    actor: User,
    reason: str,
    note: str = "",
    base_url: str = "",
    clock: Clock = system_clock,
) -> Decided:
    """Reject one idea with `reason` (a code the brand offers) and an optional note for the
    author, or raise Refused. Commits."""
    case = open_case(
        session, brand=brand, idea_id=idea_id, actor=actor, action=Action.REJECT, now=clock.now()
    )
    if reason not in {code for code, _label in reason_choices(case.settings)}:
        raise Refused(_("Choose a reason for the rejection."), 400)
    return settle_and_tell(
        session,
        case,
        action=Action.REJECT,
        status_after=IdeaStatus.REJECTED,
        reason=reason,
        note=note,
        mail_template="moderation_rejected",
        base_url=base_url,
    )
