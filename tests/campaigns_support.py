"""Factories for brands, memberships, campaigns and stages (plain functions over a session)."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session

from cocreate.accounts.models import User
from cocreate.brands.models import Brand, Membership, Role
from cocreate.campaigns.models import Campaign, CampaignStatus, Stage, StageKind


def make_brand(session: Session, slug: str = "acme", name: str = "Acme") -> Brand:
    brand = Brand(name=name, slug=slug)
    session.add(brand)
    session.commit()
    return brand


def add_member(session: Session, brand: Brand, user: User, role: Role) -> Membership:
    assert brand.id is not None and user.id is not None
    membership = Membership(brand_id=brand.id, user_id=user.id, role=role)
    session.add(membership)
    session.commit()
    return membership


def make_campaign(
    session: Session,
    brand: Brand,
    slug: str = "summer",
    *,
    status: CampaignStatus = CampaignStatus.DRAFT,
    title: str | None = None,
    created_at: datetime | None = None,
    **fields: object,
) -> Campaign:
    assert brand.id is not None
    campaign = Campaign(
        brand_id=brand.id,
        slug=slug,
        title=title or slug.replace("-", " ").title(),
        status=status,
        **({"created_at": created_at} if created_at else {}),
        **fields,  # type: ignore[arg-type]
    )
    session.add(campaign)
    session.commit()
    return campaign


def add_stages(
    session: Session,
    campaign: Campaign,
    stages: Sequence[tuple[StageKind, datetime, datetime]],
) -> list[Stage]:
    assert campaign.id is not None
    rows = [
        Stage(campaign_id=campaign.id, position=i, kind=kind, opens_at=opens, closes_at=closes)
        for i, (kind, opens, closes) in enumerate(stages)
    ]
    session.add_all(rows)
    session.commit()
    return rows


def visible_text(page: str) -> str:
    """The words a reader sees in the page's main content: tags dropped, spaces collapsed."""
    main = page.split('<main id="main">', 1)[-1].split("</main>", 1)[0]
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", main)).split())
