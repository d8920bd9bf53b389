"""Approve or reject many ideas at once from the queue: each is its own decision, in its own
transaction, refused or not on its own."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from cocreate.accounts.models import User
from cocreate.brands.models import Brand
from cocreate.clock import Clock, system_clock
from cocreate.i18n import gettext as _
from cocreate.moderation.decisions.decide import decide
from cocreate.moderation.models import Action, ModerationDecision
from cocreate.moderation.rules import Refused

BULK_LIMIT = 200


@dataclass(frozen=True)
class BulkResult:
    decided: list[ModerationDecision]
    refused: list[tuple[int, str]]  # (idea id, why)


def bulk_decide(
    *,
    session: Session,
    brand: Brand,
    idea_ids: list[int],
    actor: User,
    action: Action,
    reason: str = "",
    base_url: str = "",
    clock: Clock = system_clock,
) -> BulkResult:
    """Approve or reject many ideas; each is its own decision (and its own transaction)."""
    if action not in (Action.APPROVE, Action.REJECT):
        raise Refused(_("Only approve and reject can be done in bulk."), 400)
    if not idea_ids:
        raise Refused(_("Select at least one idea."), 400)
    if len(idea_ids) > BULK_LIMIT:
        raise Refused(_("Select at most %(n)d ideas at a time.") % {"n": BULK_LIMIT}, 400)
    decided, refused = [], []
    for idea_id in dict.fromkeys(idea_ids):
        try:
            result = decide(
                session=session,
                brand=brand,
                idea_id=idea_id,
                actor=actor,
                action=action,
                reason=reason,
                base_url=base_url,
                clock=clock,
            )
        except Refused as exc:
            if exc.status == 400:  # the same for every idea (no reason given): say it once
                raise
            refused.append((idea_id, exc.message))
        else:
            decided.append(result.decision)
    return BulkResult(decided=decided, refused=refused)
