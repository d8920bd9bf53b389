"""Paths for brand members: the campaign console for who runs campaigns, the jury page for
jurors, from the public campaign page and from the header; nothing for the public."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session
from starlette.testclient import TestClient

from cocreate.brands.models import Brand, Role
from cocreate.campaigns.models import Campaign, CampaignStatus, StageKind
from cocreate.clock import FrozenClock
from tests.campaigns_support import add_member, add_stages, make_brand, make_campaign
from tests.conftest import log_in

DAY = timedelta(days=1)
CONSOLE = "/brands/acme/campaigns"
TIMELINE = "/brands/acme/campaigns/summer/timeline"
JURY = "/brands/acme/campaigns/summer/jury"


@pytest.fixture
def acme(session: Session) -> Brand:
    return make_brand(session, "acme", "Acme")


@pytest.fixture
def summer(session: Session, acme: Brand, clock: FrozenClock) -> Campaign:
    campaign = make_campaign(
        session, acme, "summer", title="Summer", status=CampaignStatus.PUBLISHED
    )
    now = clock.now()
    add_stages(
        session,
        campaign,
        [
            (StageKind.SUBMISSION, now - DAY, now + DAY),
            (StageKind.JURY, now + 2 * DAY, now + 5 * DAY),
        ],
    )
    return campaign


def member(session: Session, make_user: Any, brand: Brand, role: Role) -> Any:
    user = make_user(f"{role.value}@example.com")
    add_member(session, brand, user, role)
    return user


def hrefs(html: str) -> set[str]:
    return set(re.findall(r'href="([^"]+)"', html))


@pytest.mark.parametrize("role", [Role.OWNER, Role.MARKETER])
def test_who_runs_campaigns_finds_the_console_from_the_page_and_the_header(
    client: TestClient, session: Session, make_user: Any, acme: Brand, summer: Campaign, role: Role
) -> None:
    log_in(client, member(session, make_user, acme, role))
    page = client.get("/c/summer").text
    assert TIMELINE in hrefs(page) and "Open the campaign console" in page
    assert JURY not in hrefs(page)  # the jury page's link is the jurors'
    assert CONSOLE in hrefs(client.get("/").text)  # in the header, on every page
    assert "Acme campaigns" in client.get("/me/ideas").text
    assert client.get(TIMELINE).status_code == 200  # the link leads somewhere they may go


def test_a_juror_finds_the_jury_page_from_the_page_and_the_header(
    client: TestClient,
    session: Session,
    make_user: Any,
    acme: Brand,
    summer: Campaign,
    clock: FrozenClock,
) -> None:
    log_in(client, member(session, make_user, acme, Role.JURY))
    page = client.get("/c/summer").text
    assert JURY in hrefs(page) and "Go to the jury page" in page
    assert TIMELINE not in hrefs(page) and CONSOLE not in hrefs(page)
    home = client.get("/").text
    assert JURY in hrefs(home) and "Jury: Summer" in home
    assert client.get(JURY).status_code == 200
    # Once the jury stage has closed, the header no longer points there.
    clock.advance(days=6)
    assert JURY not in hrefs(client.get("/").text)


def test_the_public_moderators_and_other_brands_see_no_such_link(
    client: TestClient, session: Session, make_user: Any, acme: Brand, summer: Campaign
) -> None:
    for html in (client.get("/c/summer").text, client.get("/").text):
        assert TIMELINE not in hrefs(html) and JURY not in hrefs(html)
    other = make_brand(session, "other", "Other")
    log_in(client, member(session, make_user, other, Role.JURY))
    page = client.get("/c/summer").text
    assert TIMELINE not in hrefs(page) and JURY not in hrefs(page)
    assert JURY not in hrefs(client.get("/").text)


def test_a_moderator_sees_neither_link(
    client: TestClient, session: Session, make_user: Any, acme: Brand, summer: Campaign
) -> None:
    log_in(client, member(session, make_user, acme, Role.MODERATOR))
    page = client.get("/c/summer").text
    assert TIMELINE not in hrefs(page) and JURY not in hrefs(page)
    assert CONSOLE not in hrefs(client.get("/").text)


def test_a_moderator_finds_the_queue_and_how_many_ideas_wait_in_the_header(
    client: TestClient,
    session: Session,
    make_user: Any,
    acme: Brand,
    summer: Campaign,
    clock: FrozenClock,
) -> None:
    from cocreate.ideas.models import Idea, IdeaStatus

    moderator = member(session, make_user, acme, Role.MODERATOR)
    author = make_user("author@example.com")
    for n, status in enumerate([IdeaStatus.PENDING, IdeaStatus.PENDING, IdeaStatus.APPROVED]):
        session.add(
            Idea(
                campaign_id=summer.id or 0,
                author_id=author.id or 0,
                title=f"Idea {n}",
                description="",
                status=status,
                submitted_at=clock.now(),
            )
        )
    session.commit()
    log_in(client, moderator)
    header = client.get("/").text
    assert "/brands/acme/moderation" in hrefs(header)
    assert "Moderation Acme: 2 waiting" in header
    client.cookies.clear()
    log_in(client, member(session, make_user, acme, Role.MARKETER))
    assert "/brands/acme/moderation" not in hrefs(client.get("/").text)  # not theirs
