"""Mails about a decision: to the idea's author in their language, or to the brand's owners
for an escalation. Each waits in the outbox until the decision's undo window has passed, so
that an undo deletes it before anyone reads it."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from cocreate.accounts.models import User
from cocreate.brands.models import Brand, Membership, Role
from cocreate.campaigns.models import Campaign
from cocreate.i18n import DEFAULT_LOCALE, LOCALES, using_locale
from cocreate.ideas.models import Idea
from cocreate.moderation.labels import reason_label
from cocreate.notifications.service import queue_email


def _author_locale(author: User | None, campaign: Campaign) -> str:
    if author is not None and author.locale in LOCALES:
        return str(author.locale)
    first = campaign.languages[0] if campaign.languages else DEFAULT_LOCALE
    return first if first in LOCALES else DEFAULT_LOCALE


def mail_author(
    *,
    session: Session,
    idea: Idea,
    campaign: Campaign,
    author: User | None,
    template: str,
    base_url: str,
    send_at: datetime,
    reason: str = "",
    note: str = "",
    target_title: str = "",
) -> int | None:
    """Queue a mail to the idea's author in their language, held until the undo window ends."""
    if author is None or author.email is None or not author.is_active:
        return None
    locale = _author_locale(author, campaign)
    with using_locale(locale):
        reason_text = reason_label(reason) if reason else ""
    mail = queue_email(
        session=session,
        to=author.email,
        template=template,
        locale=locale,
        name=author.display_name,
        idea_title=idea.title,
        campaign_title=campaign.title,
        campaign_url=f"{base_url}/c/{campaign.slug}",
        reason=reason_text,
        note=note,
        target_title=target_title,
    )
    # The outbox sends a mail once next_attempt_at has passed: an undo within the window
    # deletes it before anyone reads it.
    mail.next_attempt_at = send_at
    session.flush()
    return mail.id


def mail_owners(
    *,
    session: Session,
    brand: Brand,
    idea: Idea,
    campaign: Campaign,
    actor: User,
    note: str,
    base_url: str,
    send_at: datetime,
) -> list[int]:
    owners = session.exec(
        select(User)
        .join(Membership, col(Membership.user_id) == col(User.id))
        .where(Membership.brand_id == brand.id, Membership.role == Role.OWNER)
    ).all()
    ids = []
    for owner in owners:
        if owner.email is None or not owner.is_active:
            continue
        mail = queue_email(
            session=session,
            to=owner.email,
            template="moderation_escalated",
            locale=owner.locale,
            name=owner.display_name,
            moderator=actor.display_name,
            idea_title=idea.title,
            campaign_title=campaign.title,
            note=note,
            url=f"{base_url}/brands/{brand.slug}/moderation/ideas/{idea.id}",
        )
        mail.next_attempt_at = send_at
        session.flush()
        if mail.id is not None:
            ids.append(mail.id)
    return ids
