"""Factories for the moderation tests: brands, members, campaigns and ideas, written directly
(the ideas feature's submission service is not needed to fill a queue)."""

from __future__ import annotations

import itertools
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx2
from sqlmodel import Session

from cocreate.accounts.models import User
from cocreate.brands.models import Brand, Membership, Role
from cocreate.campaigns.models import Campaign, CampaignStatus
from cocreate.clock import FrozenClock
from cocreate.ideas.models import Idea, IdeaStatus
from cocreate.ideas.search import reindex_terms
from cocreate.ideas.similarity import fold

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
    title = title or f"Idea number {next(_numbers)}"
    idea = Idea(
        campaign_id=campaign.id,
        author_id=author.id,
        title=title,
        description=description,
        status=status,
        search_key=fold(title),
        created_at=submitted,
        submitted_at=submitted,
        updated_at=submitted,
    )
    session.add(idea)
    session.flush()
    reindex_terms(session=session, idea=idea)  # as the ideas feature does: look-alikes find it
    session.commit()
    return idea


@dataclass
class World:
    brand: Brand
    other_brand: Brand
    campaign: Campaign
    other_campaign: Campaign
    owner: User
    moderator: User
    second_moderator: User
    other_moderator: User
    marketer: User
    author: User
    consumer: User


def build_world(session: Session, make_user: Callable[..., User]) -> World:
    """Brand crispy-co (owner, two moderators, a marketer) and brand fizz-inc (a moderator)."""
    brand = make_brand(session, "crispy-co")
    other_brand = make_brand(session, "fizz-inc")
    world = World(
        brand=brand,
        other_brand=other_brand,
        campaign=make_campaign(session, brand, "next-flavour"),
        other_campaign=make_campaign(session, other_brand, "fizz-flavour"),
        owner=make_user("owner@example.com", name="Olive Owner"),
        moderator=make_user("mod@example.com", name="Mo Derator"),
        second_moderator=make_user("mod2@example.com", name="Sam Second"),
        other_moderator=make_user("fizzmod@example.com", name="Fizz Mod"),
        marketer=make_user("marketer@example.com", name="Mark Eter"),
        author=make_user("author@example.com", name="Ada Author"),
        consumer=make_user("consumer@example.com", name="Con Sumer"),
    )
    add_member(session, brand, world.owner, Role.OWNER)
    add_member(session, brand, world.moderator, Role.MODERATOR)
    add_member(session, brand, world.second_moderator, Role.MODERATOR)
    add_member(session, brand, world.marketer, Role.MARKETER)
    add_member(session, other_brand, world.other_moderator, Role.MODERATOR)
    return world


@dataclass(frozen=True)
class Server:
    url: str


def server_command(port: int, workers: int = 1) -> list[str]:
    return [
        sys.executable,
        "-m",
        "cocreate",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]


def server_env(*, url: str, database_url: str, data_dir: Path) -> dict[str, str]:
    """A deployment's environment: only COCREATE_* variables configure the server."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("COCREATE_")}
    return {
        **inherited,
        "COCREATE_ENV": "dev",
        "COCREATE_DATABASE_URL": database_url,
        "COCREATE_BASE_URL": url,
        "COCREATE_SECRET_KEY": "moderation-tests-secret-key-" + "m" * 32,
        "COCREATE_DATA_DIR": str(data_dir),
        "COCREATE_OUTBOX_INTERVAL": "0",
    }


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def http_log_in(client: httpx2.Client, email: str, password: str) -> str:
    """Log a real HTTP client in through the login form; returns its CSRF token."""
    page = client.get("/login")
    found = _CSRF.search(page.text)
    assert found, page.text
    response = client.post(
        "/login", data={"csrf_token": found.group(1), "email": email, "password": password}
    )
    assert response.status_code == 303, response.text
    after = _CSRF.search(client.get("/account").text)
    assert after
    return after.group(1)
