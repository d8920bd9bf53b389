"""Factories for the moderation tests: brands, members, campaigns and ideas, written directly
(the ideas feature's submission service is not needed to fill a queue)."""

from __future__ import annotations

import itertools
from datetime import timedelta

from sqlmodel import Session

from cocreate.accounts.models import User
from cocreate.brands.models import Brand, Membership, Role
from cocreate.campaigns.models import Campaign, CampaignStatus
from cocreate.clock import FrozenClock
from cocreate.ideas.models import Idea, IdeaStatus

_numbers = itertools.count(1)


def make_brand(session: Session, slug: str) -> Brand:
    brand = Brand(name=slug.replace("-", " ").title(), slug=slug)
    session.add(brand)
    session.commit()
    return brand


def add_member(session: Session, brand: Brand, user: User, role: Role) -> None:
    assert brand.id is not None and user.id is not None
    session.add(Membership(brand_id=brand.id, user_id=user.id, role=role))
    session.commit()


def make_campaign(
    session: Session, brand: Brand, slug: str | None = None, *, mode: str = "pre"
) -> Campaign:
    assert brand.id is not None
    n = next(_numbers)
    campaign = Campaign(
        brand_id=brand.id,
        slug=slug or f"campaign-{n}",
        title=f"Campaign {n}",
        status=CampaignStatus.PUBLISHED,
        moderation_mode=mode,
    )
    session.add(campaign)
    session.commit()
    return campaign


def make_idea(
    session: Session,
    campaign: Campaign,
    author: User,
    title: str | None = None,
    *,
    clock: FrozenClock,
    description: str = "A longer description of a perfectly reasonable idea.",
    status: str = IdeaStatus.PENDING,
    minutes_ago: float = 60,
) -> Idea:
    assert campaign.id is not None and author.id is not None
    submitted = clock.now() - timedelta(minutes=minutes_ago)
    idea = Idea(
        campaign_id=campaign.id,
        author_id=author.id,
        title=title or f"Idea number {next(_numbers)}",
        description=description,
        status=status,
        created_at=submitted,
        submitted_at=submitted,
        updated_at=submitted,
    )
    session.add(idea)
    session.commit()
    return idea
