"""The queue's decision form: one form, one button per decision; `decide` runs the use case
of the button pressed."""

from __future__ import annotations

from typing import TypedDict

from sqlmodel import Session

from cocreate.accounts.models import User
from cocreate.brands.models import Brand
from cocreate.clock import Clock, system_clock
from cocreate.moderation.decisions.approve import approve
from cocreate.moderation.decisions.case import Decided
from cocreate.moderation.decisions.escalate import escalate
from cocreate.moderation.decisions.merge import merge
from cocreate.moderation.decisions.reject import reject
from cocreate.moderation.decisions.request_changes import request_changes
from cocreate.moderation.models import Action

# What the form may ask for (an undo has a form of its own).
DECISIONS = (Action.APPROVE, Action.REJECT, Action.REQUEST_CHANGES, Action.MERGE, Action.ESCALATE)


class _Decision(TypedDict):
    """What every use case takes: who decides which idea, when."""

    session: Session
    brand: Brand
    idea_id: int
    actor: User
    clock: Clock


def decide(
    *,
    session: Session,
    brand: Brand,
    idea_id: int,
    actor: User,
    action: Action,
    reason: str = "",
    note: str = "",
    merge_into_id: int | None = None,
    base_url: str = "",
    clock: Clock = system_clock,
) -> Decided:
    """Record one moderator's decision on one idea, or raise Refused. Commits.

    Exactly one of two moderators deciding the same idea at once succeeds (see
    `decisions.case`). Mails to the author wait for the undo window to pass.
    """
    who = _Decision(session=session, brand=brand, idea_id=idea_id, actor=actor, clock=clock)
    if action == Action.APPROVE:
        return approve(**who, reason=reason, note=note)
    if action == Action.REJECT:
        return reject(**who, reason=reason, note=note, base_url=base_url)
    if action == Action.REQUEST_CHANGES:
        return request_changes(**who, note=note, reason=reason, base_url=base_url)
    if action == Action.MERGE:
        return merge(
            **who, merge_into_id=merge_into_id, reason=reason, note=note, base_url=base_url
        )
    if action == Action.ESCALATE:
        return escalate(**who, note=note, reason=reason, base_url=base_url)
    raise ValueError(f"not a decision of the queue's form: {action}")
