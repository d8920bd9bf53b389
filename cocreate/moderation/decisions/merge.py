"""Merge a duplicate into an approved idea of the same campaign: the duplicate's votes move to
it (and back if the merge is undone), its author is credited on it, and gets a mail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import exists
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from cocreate.accounts.models import User
from cocreate.brands.models import Brand
from cocreate.clock import Clock, system_clock
from cocreate.i18n import gettext as _
from cocreate.ideas.models import Idea, IdeaStatus
from cocreate.moderation import merge_votes
from cocreate.moderation.decisions.case import (
    Decided,
    guard,
    mail_the_author,
    open_case,
    settle,
    settling_changes,
)
from cocreate.moderation.models import Action, MergeCredit
from cocreate.moderation.rules import Refused


def merge(
    *,
    session: Session,
    brand: Brand,
    idea_id: int,
    actor: User,
    merge_into_id: int | None,
    reason: str = "",
    note: str = "",
    base_url: str = "",
    clock: Clock = system_clock,
) -> Decided:
    """Merge one idea into the approved idea `merge_into_id`, or raise Refused. Commits."""
    case = open_case(
        session, brand=brand, idea_id=idea_id, actor=actor, action=Action.MERGE, now=clock.now()
    )
    idea = case.idea
    target = session.get(Idea, merge_into_id) if merge_into_id else None
    if (
        target is None
        or target.id is None
        or target.id == idea.id
        or target.campaign_id != idea.campaign_id
        or target.status != IdeaStatus.APPROVED
    ):
        raise Refused(_("Choose an approved idea of the same campaign to merge into."), 400)
    other = Idea.__table__.alias("target")  # type: ignore[attr-defined]
    guard(
        session,
        case,
        changes={**settling_changes(IdeaStatus.MERGED), "merged_into_id": target.id},
        # The target must still be approved when the merge lands.
        conditions=[exists().where(other.c.id == target.id, other.c.status == IdeaStatus.APPROVED)],
    )
    mails = mail_the_author(
        session,
        case,
        template="moderation_merged",
        reason=reason,
        note=note,
        base_url=base_url,
        target_title=target.title,
    )
    effects: dict[str, Any] = {}
    if target.author_id != idea.author_id:
        credit = MergeCredit(
            target_idea_id=target.id,
            source_idea_id=idea_id,
            user_id=idea.author_id,
            created_at=case.now,
        )
        session.add(credit)
        session.flush()
        effects["credit_id"] = credit.id
    try:
        effects["votes"] = move_votes_and_followers_on_merge(
            session=session, source=idea, target_idea_id=target.id, now=case.now
        )
    except IntegrityError:  # a voter voted for the target meanwhile (PostgreSQL)
        session.rollback()
        raise Refused(_("Votes changed while merging. Please try again.")) from None
    return settle(
        session,
        case,
        action=Action.MERGE,
        status_after=IdeaStatus.MERGED,
        mails=mails,
        reason=reason,
        note=note,
        effects=effects,
        merged_into_id=target.id,
    )


def move_votes_and_followers_on_merge(
    *, session: Session, source: Idea, target_idea_id: int, now: datetime
) -> dict[str, list[int]]:
    """Move a merged duplicate's votes to the idea it joined (see `merge_votes`); returns
    what moved, kept in the decision's effects for the undo. There is no followers table:
    when following exists, its rows move here too."""
    assert source.id is not None
    return merge_votes.move_votes(
        session=session,
        campaign_id=source.campaign_id,
        source_id=source.id,
        target_id=target_idea_id,
        now=now,
    )


def restore_votes_and_followers_after_unmerge(
    *, session: Session, source: Idea, target_idea_id: int, moved: dict[str, list[int]]
) -> None:
    """The reverse of `move_votes_and_followers_on_merge`, when a merge is undone."""
    assert source.id is not None
    merge_votes.restore_votes(
        session=session,
        campaign_id=source.campaign_id,
        source_id=source.id,
        target_id=target_idea_id,
        moved=moved,
    )
