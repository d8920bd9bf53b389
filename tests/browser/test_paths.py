"""The newcomer's path and the rules that surprised, in Chromium at 1280 and 360 px: a
marketer goes from the campaign page to its console and opens the next stage now; a juror
finds the jury page; a person with no place left is told before typing and can withdraw an
idea after a confirmation; a refused vote keeps its button. axe-core finds no WCAG A/AA
violation on these pages, and the forms work with the keyboard alone."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlmodel import Session

from cocreate.accounts.models import User
from cocreate.brands.models import Role
from cocreate.campaigns.models import CampaignStatus, StageKind
from cocreate.clock import FrozenClock
from cocreate.ideas.models import Idea, IdeaStatus
from cocreate.voting.models import Round
from tests.browser.a11y import assert_accessible, no_horizontal_scroll
from tests.browser.test_ballot import live_votes, log_in, server, watch  # noqa: F401
from tests.campaigns_support import add_member, add_stages, make_brand, make_campaign
from tests.voting_support import make_voting_world

pytestmark = pytest.mark.browser
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    """axe-core is injected as a script, which the pages' CSP rightly refuses (as in
    test_accessibility.py)."""
    return {**browser_context_args, "bypass_csp": True}


def looked_at(page: Any, name: str, folder: Path) -> None:
    assert_accessible(page, name, folder)
    assert no_horizontal_scroll(page), f"{name} scrolls sideways at 360 px"
    page.set_viewport_size({"width": 1280, "height": 900})


def summer_of(
    session: Session,
    member: User,
    role: Role,
    kind: StageKind,
    submission_closed: datetime,
    next_opens: datetime,
) -> None:
    """Acme's published "Summer" with `member` in `role`: a submission stage that closed at
    `submission_closed`, then a stage of `kind` from `next_opens` for a week."""
    brand = make_brand(session, "acme", "Acme")
    add_member(session, brand, member, role)
    campaign = make_campaign(session, brand, "summer", status=CampaignStatus.PUBLISHED)
    add_stages(
        session,
        campaign,
        [
            (StageKind.SUBMISSION, submission_closed - 5 * DAY, submission_closed),
            (kind, next_opens, next_opens + 7 * DAY),
        ],
    )


def test_a_marketer_opens_the_next_stage_from_the_campaign_page_with_the_keyboard(
    server: str,  # noqa: F811
    page: Any,
    session: Session,
    clock: FrozenClock,
    make_user: Callable[..., User],
    tmp_path: Path,
) -> None:
    marketer = make_user("mia@example.com", name="Mia Marketer")
    now = clock.now()
    # Submission closed early an hour ago; voting opens only in two days: a gap.
    summer_of(session, marketer, Role.MARKETER, StageKind.VOTING, now - HOUR, now + 2 * DAY)
    problems = watch(page)
    log_in(page, server, marketer, "/c/summer")
    console = page.get_by_role("link", name="Open the campaign console")
    expect(console).to_be_visible()
    expect(page.get_by_role("link", name="Acme campaigns")).to_be_visible()  # the header
    looked_at(page, "campaign page as its marketer", tmp_path)

    console.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server}/brands/acme/campaigns/summer/timeline")
    open_now = page.get_by_role("link", name="Open it now")
    expect(open_now).to_have_count(1)
    open_now.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/open")
    looked_at(page, "open the stage now", tmp_path)
    page.get_by_label("Reason").focus()
    page.keyboard.type("Enough ideas: vote now")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Open it now")).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server}/brands/acme/campaigns/summer/timeline")
    expect(page.get_by_text("The stage is open.")).to_be_visible()
    expect(page.get_by_role("cell", name="Opened early")).to_be_visible()
    assert problems == []


def test_a_juror_finds_the_jury_page(
    server: str,  # noqa: F811
    page: Any,
    session: Session,
    clock: FrozenClock,
    make_user: Callable[..., User],
    tmp_path: Path,
) -> None:
    juror = make_user("jules@example.com", name="Jules Juror")
    now = clock.now()
    summer_of(session, juror, Role.JURY, StageKind.JURY, now - DAY, now - HOUR)
    log_in(page, server, juror, "/c/summer")
    expect(page.get_by_role("link", name="Jury: Summer")).to_be_visible()
    looked_at(page, "campaign page as a juror", tmp_path)
    page.get_by_role("link", name="Go to the jury page").click()
    page.wait_for_url(f"{server}/brands/acme/campaigns/summer/jury")


def test_no_place_left_is_said_first_and_withdrawing_asks_before_it_acts(
    server: str,  # noqa: F811
    page: Any,
    session: Session,
    clock: FrozenClock,
    make_user: Callable[..., User],
    make_campaign: Callable[..., Any],
    make_idea: Callable[..., Idea],
    tmp_path: Path,
) -> None:
    campaign = make_campaign(limit=1)
    author = make_user("ada@example.com", name="Ada")
    idea = make_idea(campaign, author, "Smoky paprika", status=IdeaStatus.PENDING)
    new = f"/c/{campaign.slug}/ideas/new"
    log_in(page, server, author, new)
    notice = page.locator(".notice")
    expect(notice).to_contain_text("You have no place left in this campaign")
    expect(page.get_by_role("button", name="Submit my idea")).to_have_count(0)
    expect(page.get_by_role("button", name="Save as draft")).to_be_visible()
    looked_at(page, "idea form with no place left", tmp_path)

    page.goto(f"{server}/c/{campaign.slug}/ideas/{idea.id}")
    withdraw = page.get_by_role("link", name="Withdraw this idea")
    withdraw.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/withdraw")
    expect(page.get_by_role("heading", name="Withdraw your idea?")).to_be_visible()
    looked_at(page, "withdraw confirmation", tmp_path)
    page.get_by_role("button", name="Yes, withdraw this idea").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server}/me/ideas")
    expect(page.get_by_text("Your idea was withdrawn.")).to_be_visible()
    session.rollback()
    session.refresh(idea)
    assert idea.status == IdeaStatus.WITHDRAWN
    # The place is free again: the form offers to submit.
    page.goto(f"{server}{new}")
    expect(page.get_by_role("button", name="Submit my idea")).to_be_visible()


def test_a_refused_vote_keeps_its_button(
    server: str,  # noqa: F811
    page: Any,
    session: Session,
    clock: FrozenClock,
    make_user: Callable[..., User],
    tmp_path: Path,
) -> None:
    owner = make_user("owner@example.com")
    voter = make_user("fast@example.com")
    world = make_voting_world(session, owner, now=clock.now())
    apple = world.ideas[0]

    def policy(**values: int) -> None:
        round_ = session.get(Round, world.round.id)
        assert round_ is not None
        round_.fraud_policy = values
        session.add(round_)
        session.commit()

    policy(challenge_above=0, refuse_above=0)  # every vote with any risk is refused
    log_in(page, server, voter, world.ballot_url)
    page.evaluate("window.stillTheSamePage = true")  # gone if the page reloads
    card = page.locator(f"#idea-{apple.id}")
    card.get_by_role("button", name="Vote (Idea Apple)").click()
    expect(card.get_by_role("alert")).to_contain_text("We could not accept this vote")
    button = card.get_by_role("button", name="Vote")
    expect(button).to_be_enabled()
    looked_at(page, "ballot after a refused vote", tmp_path)

    policy(challenge_above=100, refuse_above=100)  # the organisers relax the policy
    button.focus()
    page.keyboard.press("Enter")
    expect(card.get_by_text("Your vote for “Idea Apple” is counted.")).to_be_visible()
    assert page.evaluate("window.stillTheSamePage") is True
    assert live_votes(session, voter) == [(str(apple.id), 1)]
