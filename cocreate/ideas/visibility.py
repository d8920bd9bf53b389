"""Who sees an idea: the public visibility rule (in SQL and for one loaded idea), what a ballot
may offer, and who else may see an idea or fetch its image.

The rule belongs to the ideas feature; moderation changes the columns it reads (status,
hidden_at) and the campaign's moderation mode, and imports it from here.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import and_, or_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from cocreate.accounts.models import User
from cocreate.brands.models import Brand, Role
from cocreate.campaigns.models import Campaign, CampaignStatus, ModerationMode
from cocreate.ideas.models import Idea, IdeaStatus
from cocreate.security.permissions import has_brand_role
from cocreate.storage import Audience

STAFF_ROLES = tuple(Role)


def publicly_visible(mode: str | None = None) -> ColumnElement[bool]:
    """SQL condition for ideas the public may see: approved ideas, and pending ones in
    post-moderated campaigns, unless reports hid them until a moderator decides.

    Without `mode` the query must join Campaign (any campaign's ideas). With the campaign's
    moderation mode, when the query reads one campaign, the condition is on `ideas` alone
    and keeps the gallery's (campaign, status, sort key) indexes usable.
    """
    if mode is not None:
        statuses = public_statuses(mode)
        status = (
            col(Idea.status) == statuses[0]
            if len(statuses) == 1
            else col(Idea.status).in_(statuses)
        )
        return and_(col(Idea.hidden_at).is_(None), status)
    return and_(
        col(Idea.hidden_at).is_(None),
        or_(
            col(Idea.status) == IdeaStatus.APPROVED,
            and_(
                col(Idea.status) == IdeaStatus.PENDING,
                col(Campaign.moderation_mode) == ModerationMode.POST,
            ),
        ),
    )


def public_statuses(mode: str) -> tuple[str, ...]:
    """The statuses the public sees in a campaign of this moderation mode (not hidden)."""
    if mode == ModerationMode.POST:
        return (IdeaStatus.APPROVED, IdeaStatus.PENDING)
    return (IdeaStatus.APPROVED,)


def votable() -> ColumnElement[bool]:
    """SQL condition for ideas a ballot may offer: publicly visible and approved (a vote goes
    to a moderated idea only, even in a post-moderated campaign)."""
    return and_(col(Idea.hidden_at).is_(None), col(Idea.status) == IdeaStatus.APPROVED)


def is_publicly_visible(idea: Idea, campaign: Campaign) -> bool:
    """The same rule as `publicly_visible`, for one idea already loaded."""
    if idea.hidden_at is not None or campaign.status != CampaignStatus.PUBLISHED:
        return False
    return idea.status == IdeaStatus.APPROVED or (
        idea.status == IdeaStatus.PENDING and campaign.moderation_mode == ModerationMode.POST
    )


def is_brand_staff(*, session: Session, user: User | None, brand: Brand) -> bool:
    return has_brand_role(session=session, user=user, brand=brand, roles=STAFF_ROLES)


def can_view(
    *, session: Session, user: User | None, idea: Idea, campaign: Campaign, brand: Brand
) -> bool:
    """Publicly visible ideas for anyone; the others, hidden ones included, only for their
    author and the brand's staff."""
    if is_publicly_visible(idea, campaign):
        return True
    if user is not None and user.id == idea.author_id:
        return True
    return is_brand_staff(session=session, user=user, brand=brand)


def image_audience(
    *, session: Session, image_key: str, user: Callable[[], User | None]
) -> Audience:
    """Who may fetch the files of an idea's image: anyone while the idea is publicly visible;
    else whoever may see the idea (`can_view`: its author, the brand's staff, admins); else,
    or when no idea has this image, nobody. `user` is called only when it matters, so a
    public image costs no look-up of the signed-in account."""
    row = session.exec(
        select(Idea, Campaign, Brand)
        .join(Campaign, col(Campaign.id) == col(Idea.campaign_id))
        .join(Brand, col(Brand.id) == col(Campaign.brand_id))
        .where(Idea.image_key == image_key)
    ).first()
    if row is None:
        return Audience.NOBODY
    idea, campaign, brand = row
    if is_publicly_visible(idea, campaign):
        return Audience.PUBLIC
    if can_view(session=session, user=user(), idea=idea, campaign=campaign, brand=brand):
        return Audience.PRIVATE
    return Audience.NOBODY
