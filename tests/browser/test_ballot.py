"""The ballot in Debian's Chromium against a real uvicorn: htmx votes, and a ranked ballot
filled in with the keyboard alone."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, col, select

from cocreate.accounts.models import User
from cocreate.clock import FrozenClock
from cocreate.voting.models import Vote
from tests.browser.inprocess import served
from tests.conftest import PASSWORD
from tests.voting_support import make_voting_world

pytestmark = pytest.mark.browser


@pytest.fixture
def server(app: Any, clock: FrozenClock) -> Iterator[str]:
    clock.at = datetime.now(UTC).replace(microsecond=0)
    with served(app) as url:
        yield url


def watch(page: Any) -> list[str]:
    """Script errors, CSP violations and failed requests seen by the page."""
    problems: list[str] = []

    def on_console(message: Any) -> None:
        if message.type == "error" and "favicon" not in message.location.get("url", ""):
            problems.append(f"{message.text} at {message.location}")

    page.on("console", on_console)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("response", lambda r: problems.append(r.url) if r.status >= 400 else None)
    return problems


def log_in(page: Any, server: str, user: User, next_path: str) -> None:
    page.goto(f"{server}/login?next={next_path}")
    page.get_by_label("Email address").fill(str(user.email))
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("main").get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{server}{next_path}")


def live_votes(session: Session, voter: User) -> list[tuple[str, int]]:
    session.rollback()
    rows = session.exec(
        select(Vote.idea_id, Vote.weight).where(
            Vote.voter_id == voter.id, col(Vote.withdrawn_at).is_(None)
        )
    ).all()
    return sorted((str(i), w) for i, w in rows)


def test_vote_unvote_and_vote_again_without_reloading(
    server: str, page: Any, session: Session, clock: FrozenClock, make_user: Callable[..., User]
) -> None:
    owner = make_user("owner@example.com")
    consumer = make_user("consumer@example.com")
    world = make_voting_world(session, owner, now=clock.now(), max_votes=2)
    apple = world.ideas[0]
    problems = watch(page)
    log_in(page, server, consumer, world.ballot_url)

    counter = page.locator("#ballot-counter")
    expect(counter).to_have_text("Votes left: 2 of 2")
    page.evaluate("window.stillTheSamePage = true")  # gone if the page reloads
    card = page.locator(f"#idea-{apple.id}")

    card.get_by_role("button", name="Vote (Idea Apple)").click()
    expect(counter).to_have_text("Votes left: 1 of 2")
    expect(card.get_by_text("Your vote for “Idea Apple” is counted.")).to_be_visible()
    expect(card.get_by_text("Your vote", exact=True)).to_be_visible()
    # Focus stays on the swapped button, so a keyboard user can take the vote back at once.
    assert page.evaluate("document.activeElement.id") == f"vote-button-{apple.id}"

    card.get_by_role("button", name="Take back my vote (Idea Apple)").click()
    expect(counter).to_have_text("Votes left: 2 of 2")
    expect(card.get_by_text("Your vote for “Idea Apple” is taken back.")).to_be_visible()

    card.get_by_role("button", name="Vote (Idea Apple)").click()
    expect(counter).to_have_text("Votes left: 1 of 2")
    assert page.evaluate("window.stillTheSamePage") is True
    assert live_votes(session, consumer) == [(str(apple.id), 1)]

    page.reload()  # what the server renders agrees with what htmx showed
    expect(counter).to_have_text("Votes left: 1 of 2")
    expect(page.locator(f"#idea-{apple.id}").get_by_role("button")).to_have_text(
        "Take back my vote (Idea Apple)"
    )
    assert problems == []


def test_a_ranked_ballot_filled_in_with_the_keyboard_alone(
    server: str, page: Any, session: Session, clock: FrozenClock, make_user: Callable[..., User]
) -> None:
    owner = make_user("owner@example.com")
    consumer = make_user("consumer@example.com")
    world = make_voting_world(
        session, owner, now=clock.now(), method="ranked", max_votes=3, visibility="hidden"
    )
    apple, _basil, cherry, _dill = world.ideas
    problems = watch(page)
    log_in(page, server, consumer, world.ballot_url)

    keyboard = page.keyboard
    for _n in range(60):  # Tab through the page until the first position has the focus
        keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "f-rank-1":
            break
    else:
        raise AssertionError("Tab never reached the first position")
    # Options are listed by title after "(no idea at this position)".
    for _n in range(3):
        keyboard.press("ArrowDown")  # Idea Cherry
    keyboard.press("Tab")
    keyboard.press("ArrowDown")  # Idea Apple
    keyboard.press("Tab")  # position 3 stays empty
    keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Save my ranking"
    keyboard.press("Enter")

    expect(page.get_by_text("Your ranking is saved.")).to_be_visible()
    expect(page.locator("#f-rank-1")).to_have_value(str(cherry.id))
    expect(page.locator("#f-rank-2")).to_have_value(str(apple.id))
    expect(page.locator("#f-rank-3")).to_have_value("")
    assert live_votes(session, consumer) == sorted([(str(cherry.id), 1), (str(apple.id), 2)])
    assert problems == []
