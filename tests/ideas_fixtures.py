"""Factories for the ideas tests: a campaign taking ideas, ideas, and image bytes.

A test module loads the fixtures with `pytest_plugins = ["tests.ideas_fixtures"]`.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from PIL import Image
from sqlmodel import Session

from cocreate.accounts.models import User
from cocreate.brands.models import Brand, Membership, Role
from cocreate.campaigns.models import Campaign, CampaignStatus, Stage, StageKind
from cocreate.clock import FrozenClock
from cocreate.ideas import search
from cocreate.ideas.models import Idea, IdeaStatus
from cocreate.ideas.similarity import fold

_counter = itertools.count(1)


@pytest.fixture
def make_campaign(session: Session, clock: FrozenClock) -> Callable[..., Campaign]:
    """A published campaign whose submission stage opened a day ago and closes in a week."""

    def make(
        slug: str | None = None,
        *,
        categories: list[str] | None = None,
        limit: int = 3,
        status: str = CampaignStatus.PUBLISHED,
        staff: list[tuple[User, Role]] | None = None,
    ) -> Campaign:
        n = next(_counter)
        brand = Brand(name=f"Brand {n}", slug=f"brand-{n}")
        session.add(brand)
        session.flush()
        campaign = Campaign(
            brand_id=brand.id or 0,
            slug=slug or f"campaign-{n}",
            title=f"Campaign {n}",
            summary="Invent our next flavour.",
            categories=categories or [],
            submission_limit=limit,
            status=status,
            created_at=clock.now(),
        )
        session.add(campaign)
        session.flush()
        now = clock.now()
        session.add(
            Stage(
                campaign_id=campaign.id or 0,
                position=0,
                kind=StageKind.SUBMISSION,
                title="Ideas",
                opens_at=now - timedelta(days=1),
                closes_at=now + timedelta(days=7),
            )
        )
        session.add(
            Stage(
                campaign_id=campaign.id or 0,
                position=1,
                kind=StageKind.VOTING,
                title="Vote",
                opens_at=now + timedelta(days=7),
                closes_at=now + timedelta(days=14),
            )
        )
        for user, role in staff or []:
            session.add(Membership(brand_id=brand.id or 0, user_id=user.id or 0, role=role))
        session.commit()
        return campaign

    return make


@pytest.fixture
def make_idea(session: Session, clock: FrozenClock) -> Callable[..., Idea]:
    """An idea written straight to the database (as moderation would leave it), terms indexed."""

    def make(
        campaign: Campaign,
        author: User,
        title: str = "Salt and vinegar",
        *,
        description: str = "",
        status: str = IdeaStatus.APPROVED,
        category: str | None = None,
        votes: int = 0,
        random_key: int | None = None,
        submitted_minutes_ago: float = 0,
    ) -> Idea:
        n = next(_counter)
        when = clock.now() - timedelta(minutes=submitted_minutes_ago)
        idea = Idea(
            campaign_id=campaign.id or 0,
            author_id=author.id or 0,
            title=title,
            description=description,
            category=category,
            status=status,
            search_key=fold(title),
            vote_count=votes,
            random_key=n * 7919 % 100_000 if random_key is None else random_key,
            created_at=when,
            updated_at=when,
            submitted_at=None if status == IdeaStatus.DRAFT else when,
        )
        session.add(idea)
        session.flush()
        search.reindex_terms(session=session, idea=idea)
        session.commit()
        return idea

    return make


def png_bytes(size: tuple[int, int] = (64, 48), mode: str = "RGB", **save: Any) -> bytes:
    out = io.BytesIO()
    color: Any = (200, 30, 30, 128) if mode == "RGBA" else (200, 30, 30) if mode == "RGB" else 0
    Image.new(mode, size, color).save(out, "PNG", **save)
    return out.getvalue()


def jpeg_bytes(size: tuple[int, int] = (64, 48), **save: Any) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (30, 120, 200)).save(out, "JPEG", **save)
    return out.getvalue()


def tally_round(session: Session, campaign: Campaign, votes: list[tuple[Idea, int]]) -> int:
    """A round on the campaign's voting stage with these counted votes in its tallies (what
    the gallery shows and sorts by once the round has opened). Returns the round's id."""
    from sqlmodel import select

    from cocreate.voting.models import IdeaTally, Round

    stage = session.exec(
        select(Stage).where(Stage.campaign_id == campaign.id, Stage.kind == StageKind.VOTING)
    ).one()
    round_ = Round(stage_id=stage.id or 0, campaign_id=campaign.id or 0)
    session.add(round_)
    session.flush()
    session.add_all(
        IdeaTally(round_id=round_.id or 0, idea_id=idea.id or 0, votes=n, points=n)
        for idea, n in votes
        if n
    )
    session.commit()
    return round_.id or 0
