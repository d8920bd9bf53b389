"""Automatic work on submitted ideas: the pre-screen's flags (and automatic rejection of spam
when the brand asked for it), and the return of an idea sent back for changes.

The ideas feature calls these through its hooks (see `idea_hooks`), in the submission's own
transaction: they leave the commit to it.
"""

from __future__ import annotations

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from cocreate.accounts.models import User
from cocreate.campaigns.models import Campaign
from cocreate.clock import Clock, system_clock
from cocreate.ideas.models import Idea, IdeaStatus
from cocreate.ideas.search import similar_ideas
from cocreate.ideas.similarity import rank_similar
from cocreate.moderation import prescreen
from cocreate.moderation.blocklist import DEFAULT_BLOCKLIST
from cocreate.moderation.brand_settings import get_settings
from cocreate.moderation.history import changes_requested, record_automatic
from cocreate.moderation.mails import mail_author
from cocreate.moderation.models import (
    SPAM_KINDS,
    Action,
    FlagKind,
    ModerationFlag,
)

DUPLICATE_CANDIDATES = 2000  # the campaign's most recent ideas compared with a new one


def look_alike(*, session: Session, idea: Idea) -> tuple[int, str, str] | None:
    """(id, title, status) of the campaign's idea that `idea` most looks like, if any.

    With the ideas feature's similarity search: approved ideas first (they can receive a
    merge), else the most recent pending ones ranked the same way (two people sending the
    same idea at the same time).
    """
    assert idea.id is not None
    approved = similar_ideas(
        session=session, campaign_id=idea.campaign_id, title=idea.title, limit=1, exclude=idea.id
    )
    if approved:
        return approved[0].id or 0, approved[0].title, approved[0].status
    pending = session.exec(
        select(Idea.id, Idea.search_key, Idea.title)
        .where(
            Idea.campaign_id == idea.campaign_id,
            Idea.status == IdeaStatus.PENDING,
            col(Idea.id) != idea.id,
        )
        .order_by(col(Idea.id).desc())
        .limit(DUPLICATE_CANDIDATES)
    ).all()
    titles = {int(i): t for i, _key, t in pending if i is not None}
    ranked = rank_similar(idea.title, ((int(i), k) for i, k, _t in pending if i is not None))
    if not ranked:
        return None
    best = ranked[0][0]
    return best, titles[best], IdeaStatus.PENDING


def prescreen_idea(
    *, session: Session, idea: Idea, clock: Clock = system_clock, base_url: str = ""
) -> list[ModerationFlag]:
    """Screen a just-submitted idea: store flags with a suggested action; reject spam
    automatically when the brand asked for it. The caller commits.

    For the ideas feature: call it on every submission, in the submission's transaction.
    """
    now = clock.now()
    assert idea.id is not None
    campaign = session.get(Campaign, idea.campaign_id)
    assert campaign is not None
    settings = get_settings(session=session, brand_id=campaign.brand_id)
    findings = prescreen.screen(
        title=idea.title,
        description=idea.description,
        blocklist=[*DEFAULT_BLOCKLIST, *settings.blocklist],
        look_alike=look_alike(session=session, idea=idea),
    )
    # A resubmitted idea is screened afresh: earlier automatic findings no longer hold.
    session.execute(
        delete(ModerationFlag).where(
            col(ModerationFlag.idea_id) == idea.id,
            col(ModerationFlag.kind) != FlagKind.ESCALATED,
            col(ModerationFlag.resolved_by_id).is_(None),
        )
    )
    flags = [
        ModerationFlag(
            idea_id=idea.id,
            kind=f.kind,
            detail=f.detail,
            suggested_action=f.suggested_action,
            similar_idea_id=f.similar_idea_id,
            created_at=now,
        )
        for f in findings
    ]
    session.add_all(flags)
    session.flush()
    is_spam = any(f.kind in SPAM_KINDS for f in findings)
    if settings.auto_reject_spam and is_spam and idea.status == IdeaStatus.PENDING:
        changed = session.execute(
            update(Idea)
            .execution_options(synchronize_session=False)
            .where(col(Idea.id) == idea.id, col(Idea.status) == IdeaStatus.PENDING)
            .values(status=IdeaStatus.REJECTED, updated_at=now)
        )
        if changed.rowcount == 1:  # type: ignore[attr-defined]
            decision = record_automatic(
                session,
                brand_id=campaign.brand_id,
                idea=idea,
                action=Action.REJECT,
                status_after=IdeaStatus.REJECTED,
                reason="spam",
                now=now,
            )
            mail_id = mail_author(
                session=session,
                idea=idea,
                campaign=campaign,
                author=session.get(User, idea.author_id),
                template="moderation_rejected",
                base_url=base_url,
                send_at=now,
                reason="spam",
            )
            decision.effects = {"mails": [mail_id] if mail_id else []}
            session.add(decision)
            session.refresh(idea)
    return flags


def resubmit_after_changes(
    *, session: Session, idea: Idea, clock: Clock = system_clock, base_url: str = ""
) -> bool:
    """The author sent back an idea a moderator returned for changes: back to the queue.

    For the ideas feature, when its author submits an idea `changes_requested` returns a
    decision for. Moves draft -> pending, records it in the history, screens it again.
    Returns False when the idea was not waiting for changes. The caller commits.
    """
    now = clock.now()
    if changes_requested(session=session, idea_id=idea.id or 0) is None:
        return False
    moved = session.execute(
        update(Idea)
        .execution_options(synchronize_session=False)
        .where(col(Idea.id) == idea.id, col(Idea.status) == IdeaStatus.DRAFT)
        .values(status=IdeaStatus.PENDING, updated_at=now)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        return False
    campaign = session.get(Campaign, idea.campaign_id)
    assert campaign is not None
    record_automatic(
        session,
        brand_id=campaign.brand_id,
        idea=idea,
        action=Action.RESUBMIT,
        status_after=IdeaStatus.PENDING,
        now=now,
        actor_id=idea.author_id,
    )
    session.refresh(idea)
    prescreen_idea(session=session, idea=idea, clock=clock, base_url=base_url)
    return True
