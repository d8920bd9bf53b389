"""Where a signed-in member of a brand goes from a campaign: the campaign console for those
who run campaigns, the jury page for jurors. Shown on the campaign page and in the header
(registered with the header's navigation, which knows nothing of campaigns)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from cocreate.accounts.models import User
from cocreate.brands.models import Brand, Role
from cocreate.campaigns.models import Campaign, CampaignStatus, Stage, StageKind
from cocreate.i18n import gettext as _
from cocreate.security.permissions import (
    JUDGE,
    RUN_CAMPAIGNS,
    NavLink,
    register_nav_part,
    role_in_brand,
)


def console_path(brand: Brand, campaign: Campaign) -> str:
    return f"/brands/{brand.slug}/campaigns/{campaign.slug}/timeline"


def jury_path(brand: Brand, campaign: Campaign) -> str:
    """The jury page (cocreate/voting/jury_routes.py)."""
    return f"/brands/{brand.slug}/campaigns/{campaign.slug}/jury"


def campaign_paths(
    *,
    session: Session,
    user: User | None,
    brand: Brand,
    campaign: Campaign,
    stages: Sequence[Stage],
) -> list[NavLink]:
    """The campaign page's links for this visitor: none for the public."""
    if user is None:
        return []
    role = role_in_brand(session=session, user=user, brand_slug=brand.slug)
    links = []
    if user.is_admin or role in RUN_CAMPAIGNS:
        links.append(NavLink(_("Open the campaign console"), console_path(brand, campaign)))
    if role in JUDGE and any(s.kind == StageKind.JURY for s in stages):
        links.append(NavLink(_("Go to the jury page"), jury_path(brand, campaign)))
    return links


def jury_campaigns(*, session: Session, brand_ids: list[int], now: datetime) -> list[Campaign]:
    """Published campaigns of these brands whose jury stage has not closed yet."""
    if not brand_ids:
        return []
    return list(
        session.exec(
            select(Campaign)
            .where(
                col(Campaign.brand_id).in_(brand_ids),
                Campaign.status == CampaignStatus.PUBLISHED,
                col(Campaign.id).in_(
                    select(Stage.campaign_id).where(
                        Stage.kind == StageKind.JURY, col(Stage.closes_at) > now
                    )
                ),
            )
            .order_by(col(Campaign.title), col(Campaign.id))
        ).all()
    )


def header_links(
    session: Session, user: User, memberships: Sequence[tuple[Brand, Role]], now: datetime
) -> list[NavLink]:
    """For the header: each brand's console for those who run its campaigns, and the jury
    page of each campaign whose jury has yet to finish, for its jurors."""
    links = [
        NavLink(_("%(brand)s campaigns") % {"brand": brand.name}, f"/brands/{brand.slug}/campaigns")
        for brand, role in memberships
        if role in RUN_CAMPAIGNS
    ]
    judged = {brand.id: brand for brand, role in memberships if role in JUDGE and brand.id}
    for campaign in jury_campaigns(session=session, brand_ids=list(judged), now=now):
        brand = judged[campaign.brand_id]
        label = _("Jury: %(campaign)s") % {"campaign": campaign.title}
        links.append(NavLink(label, jury_path(brand, campaign)))
    return links


def register() -> None:
    register_nav_part(header_links)
