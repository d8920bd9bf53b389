from __future__ import annotations

from sqlmodel import Session, col, select

from cocreate.brands.models import Brand
from cocreate.campaigns.models import Campaign, CampaignStatus


def list_public_campaigns(*, session: Session, limit: int = 50) -> list[tuple[Campaign, Brand]]:
    rows = session.exec(
        select(Campaign, Brand)
        .join(Brand, Brand.id == Campaign.brand_id)  # type: ignore[arg-type]
        .where(Campaign.status == CampaignStatus.PUBLISHED)
        .order_by(col(Campaign.created_at).desc())
        .limit(limit)
    ).all()
    return [(campaign, brand) for campaign, brand in rows]


def get_public_campaign(*, session: Session, slug: str) -> tuple[Campaign, Brand] | None:
    row = session.exec(
        select(Campaign, Brand)
        .join(Brand, Brand.id == Campaign.brand_id)  # type: ignore[arg-type]
        .where(Campaign.slug == slug, Campaign.status == CampaignStatus.PUBLISHED)
    ).first()
    return (row[0], row[1]) if row else None
