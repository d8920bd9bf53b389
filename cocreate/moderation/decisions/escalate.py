"""Escalate an idea to the brand's owners: it stays as it is, flagged, until an owner decides
it; the owners get a mail with the moderator's note."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from cocreate.accounts.models import User
from cocreate.brands.models import Brand
from cocreate.clock import Clock, system_clock
from cocreate.i18n import gettext as _
from cocreate.moderation.decisions.case import Decided, conclude, guard, open_case
from cocreate.moderation.mails import mail_owners
from cocreate.moderation.models import Action, FlagKind, ModerationFlag
from cocreate.moderation.rules import Refused


def escalate(
    *,
    session: Session,
    brand: Brand,
    idea_id: int,
    actor: User,
    note: str = "",
    reason: str = "",
    base_url: str = "",
    clock: Clock = system_clock,
) -> Decided:
    """Escalate one idea with `note` for the owners, or raise Refused. Commits."""
    case = open_case(
        session, brand=brand, idea_id=idea_id, actor=actor, action=Action.ESCALATE, now=clock.now()
    )
    guard(session, case, changes={})
    escalation = ModerationFlag(
        idea_id=idea_id,
        kind=FlagKind.ESCALATED,
        detail=note[:200],
        suggested_action=Action.APPROVE,
        created_at=case.now,
    )
    session.add(escalation)
    try:
        session.flush()
    except IntegrityError:  # one open escalation per idea (a partial unique index)
        session.rollback()
        raise Refused(_("This idea is already escalated to the brand owner.")) from None
    mails = mail_owners(
        session=session,
        brand=brand,
        idea=case.idea,
        campaign=case.campaign,
        actor=actor,
        note=note,
        base_url=base_url,
        send_at=case.send_at,
    )
    return conclude(
        session,
        case,
        action=Action.ESCALATE,
        status_after=case.status_before,
        effects={"escalation_flag_id": escalation.id, "mails": mails},
        reason=reason,
        note=note,
    )
