"""A campaign from the marketer's console to a consumer's idea, in Chromium on a real server."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from cocreate.accounts.models import User
from cocreate.brands.models import Role
from cocreate.campaigns.models import Campaign, CampaignStatus, Stage
from cocreate.ideas.models import Idea, IdeaStatus
from tests.browser.conftest import LiveServer
from tests.campaigns_support import add_member, make_brand
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

LOCAL_INPUT = "%Y-%m-%dT%H:%M"  # what a datetime-local input takes


def log_in(page: Page, server: LiveServer, user: User) -> None:
    page.goto(f"{server.url}/login")
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("main").get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name=user.display_name)).to_be_visible()


def add_stage(page: Page, kind: str, opens: datetime, closes: datetime) -> None:
    page.get_by_label("Kind of stage").select_option(kind)
    page.get_by_label("Opens").fill(opens.strftime(LOCAL_INPUT))
    page.get_by_label("Closes").fill(closes.strftime(LOCAL_INPUT))
    page.get_by_role("button", name="Add the stage").click()
    expect(page.get_by_text("Stage added.")).to_be_visible()


def test_a_marketer_publishes_a_campaign_and_a_consumer_submits_an_idea_with_a_picture(
    page: Page,
    live_server: LiveServer,
    session: Session,
    make_user: Callable[..., User],
    make_idea: Callable[..., Idea],
    tmp_path: Path,
) -> None:
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    acme = make_brand(session, "acme", "Acme")
    marketer = make_user("mia@example.com", name="Mia Marketer")
    add_member(session, acme, marketer, Role.MARKETER)
    consumer = make_user("carl@example.com", name="Carl Consumer")
    someone = make_user("sam@example.com", name="Sam")

    # The marketer creates the campaign and its three-stage timeline (in UTC), then publishes.
    log_in(page, live_server, marketer)
    page.goto(f"{live_server.url}/brands/acme/campaigns/new")
    page.get_by_label("Title", exact=True).fill("Summer flavours")
    page.get_by_label("Address").fill("summer-flavours")
    page.get_by_label("Summary").fill("Invent the taste of summer.")
    page.get_by_role("button", name="Create the draft").click()
    expect(page.get_by_text("Campaign created as a draft.")).to_be_visible()
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    add_stage(page, "submission", now - timedelta(minutes=1), now + timedelta(days=7))
    add_stage(page, "voting", now + timedelta(days=7), now + timedelta(days=14))
    add_stage(page, "announcement", now + timedelta(days=14), now + timedelta(days=21))
    expect(page.locator("table.stages tbody tr")).to_have_count(3)
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_text("The campaign is published: everyone can see it now.")).to_be_visible()
    page.get_by_role("button", name="Log out").click()

    campaign = session.exec(select(Campaign).where(Campaign.slug == "summer-flavours")).one()
    assert campaign.status == CampaignStatus.PUBLISHED
    stages = session.exec(select(Stage).where(Stage.campaign_id == campaign.id)).all()
    assert sorted((s.position, s.kind) for s in stages) == [
        (0, "submission"),
        (1, "voting"),
        (2, "announcement"),
    ]
    make_idea(campaign, someone, "Fraise", status=IdeaStatus.APPROVED)

    # The consumer finds the campaign, starts an idea and is shown the look-alike.
    log_in(page, live_server, consumer)
    page.goto(f"{live_server.url}/c/summer-flavours")
    expect(page.get_by_role("heading", name="Summer flavours", level=1)).to_be_visible()
    expect(page.get_by_role("link", name="Browse the ideas")).to_be_visible()
    page.get_by_role("link", name="Submit an idea").click()
    expect(page.get_by_role("heading", name="Share an idea")).to_be_visible()
    similar = page.locator("#similar-ideas")
    expect(similar).to_be_empty()
    page.get_by_label("Title", exact=True).press_sequentially("fraises", delay=30)
    expect(similar.get_by_role("heading", name="Similar ideas already shared")).to_be_visible()
    expect(similar.get_by_role("link", name="Fraise")).to_be_visible()

    # Their own twist, with a photo, goes to moderation.
    photo = tmp_path / "strawberries.png"
    Image.new("RGB", (640, 480), (220, 40, 60)).save(photo, "PNG")
    page.get_by_label("Title", exact=True).fill("Fraises et poivre")
    page.get_by_label("Description").fill("Strawberry with *black pepper*.")
    page.get_by_label("Image (optional)").set_input_files(photo)
    page.get_by_role("button", name="Submit my idea").click()
    expect(page.get_by_text("Thank you! Your idea was sent to the moderators")).to_be_visible()
    image = page.locator("img.idea-image")
    expect(image).to_be_visible()
    assert image.evaluate("img => img.naturalWidth") == 640

    page.get_by_role("link", name="My ideas").click()
    row = page.locator("tr", has_text="Fraises et poivre")
    expect(row).to_contain_text("Summer flavours")
    expect(row).to_contain_text("Waiting for moderation")
    idea = session.exec(select(Idea).where(Idea.author_id == consumer.id)).one()
    assert idea.status == IdeaStatus.PENDING and idea.image_key
    assert problems == []
