"""A moderator works through the queue in Chromium with the keyboard alone, against
`cocreate serve`: each decision swaps the next item in without reloading the page."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect
from sqlmodel import Session, select

from cocreate.accounts.models import User
from cocreate.clock import FrozenClock
from cocreate.ideas.models import Idea
from cocreate.moderation.models import ModerationDecision
from tests.browser.conftest import LiveServer
from tests.conftest import PASSWORD
from tests.moderation_support import build_world, make_idea

pytestmark = pytest.mark.browser


def test_a_moderator_works_through_five_items_with_the_keyboard(
    page: Page,
    live_server: LiveServer,
    session: Session,
    make_user: Callable[..., User],
    clock: FrozenClock,
) -> None:
    world = build_world(session, make_user)
    target = make_idea(
        session, world.campaign, world.owner, "Salt and vinegar", clock=clock, status="approved"
    )
    titles = ["Sea salt", "Pickled onion", "Cheese and chive", "Salt & vinegar!", "Paprika"]
    ideas = [
        make_idea(session, world.campaign, world.author, title, clock=clock, minutes_ago=100 - n)
        for n, title in enumerate(titles)
    ]
    problems: list[str] = []

    def note(message: ConsoleMessage) -> None:
        # The browser's own request for /favicon.ico is not the page's doing.
        if message.type == "error" and not message.location["url"].endswith("/favicon.ico"):
            problems.append(f"{message.text} ({message.location['url']})")

    page.on("console", note)
    page.goto(f"{live_server.url}/login")
    page.get_by_label("Email address").fill(world.moderator.email or "")
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("main").get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/brands/crispy-co/moderation")
    expect(page.get_by_role("heading", name="Moderation queue")).to_be_visible()

    heading = page.locator("#item-title")
    page.keyboard.press("n")  # start with the oldest item
    expect(heading).to_have_text("Sea salt")
    # Marks this page load: a full reload would forget it.
    page.evaluate("window.sameDocument = true")

    page.keyboard.press("?")
    expect(page.get_by_text("Reject: choose a reason with the arrow keys")).to_be_visible()
    page.keyboard.press("?")

    page.keyboard.press("a")  # 1. approve
    expect(heading).to_have_text("Pickled onion")
    expect(page.get_by_text("Approved: Sea salt")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/moderation/ideas/{ideas[1].id}$"))

    page.keyboard.press("r")  # 2. reject: the reason list takes the focus
    expect(page.locator("#reject-reason")).to_be_focused()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(heading).to_have_text("Cheese and chive")
    expect(page.get_by_text("Rejected: Pickled onion")).to_be_visible()

    page.keyboard.press("n")  # skip, then come back
    expect(heading).to_have_text("Salt & vinegar!")
    page.keyboard.press("p")
    expect(heading).to_have_text("Cheese and chive")
    page.keyboard.press("a")  # 3. approve
    expect(heading).to_have_text("Salt & vinegar!")

    page.keyboard.press("m")  # 4. merge into the approved "Salt and vinegar"
    expect(page.locator("#merge-into")).to_be_focused()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(heading).to_have_text("Paprika")
    expect(page.get_by_text("Merged: Salt & vinegar!")).to_be_visible()

    page.keyboard.press("a")  # 5. approve: the queue is empty
    expect(heading).to_have_text("Nothing is waiting here. Well done!")
    page.keyboard.press("u")  # changed my mind: undo brings it back
    expect(heading).to_have_text("Paprika")
    expect(page.get_by_text("Undone.")).to_be_visible()
    page.keyboard.press("r")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(heading).to_have_text("Nothing is waiting here. Well done!")

    assert page.evaluate("window.sameDocument") is True  # never reloaded
    assert problems == []  # no CSP violation, no script error

    session.rollback()
    session.expire_all()  # the ideas made above are still in the session, as first written
    statuses = {i.title: i.status for i in session.exec(select(Idea)).all()}
    assert statuses == {
        "Salt and vinegar": "approved",
        "Sea salt": "approved",
        "Pickled onion": "rejected",
        "Cheese and chive": "approved",
        "Salt & vinegar!": "merged",
        "Paprika": "rejected",
    }
    merged = session.exec(select(Idea).where(Idea.title == "Salt & vinegar!")).one()
    assert merged.merged_into_id == target.id
    actions = [d.action for d in session.exec(select(ModerationDecision).order_by("id")).all()]
    assert actions == ["approve", "reject", "approve", "merge", "approve", "undo", "reject"]
    reasons = session.exec(
        select(ModerationDecision.reason).where(ModerationDecision.action == "reject")
    ).all()
    assert list(reasons) == ["off_topic", "duplicate"]
