"""A head-to-head round in Debian's Chromium against a real uvicorn: a consumer makes twenty
choices (the first with the keyboard alone, the focus staying on the button after each swap),
the live ranking follows, the round is certified and `cocreate verify-results` agrees; the
ballot and the results are looked at (screenshots at 1280 and 360 px, axe-core's WCAG A/AA)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from cocreate.accounts.models import User
from cocreate.clock import FrozenClock
from cocreate.headtohead.models import HeadToHeadChoice
from cocreate.ideas.models import Idea, IdeaStatus
from cocreate.results.certify import certify_round
from cocreate.results.models import RoundResult
from cocreate.voting.models import Round
from tests.browser.a11y import assert_accessible, no_horizontal_scroll
from tests.browser.inprocess import served
from tests.browser.test_ballot import log_in, watch
from tests.unit.test_results_certification import run_verify
from tests.voting_support import DAY, make_voting_world

pytestmark = pytest.mark.browser

CHOICES = 20


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    """axe-core is injected as a script of the test's: the page's CSP would refuse it."""
    return {**browser_context_args, "bypass_csp": True}


@pytest.fixture
def server(app: Any, clock: FrozenClock) -> Iterator[str]:
    clock.at = datetime.now(UTC).replace(microsecond=0)
    with served(app) as url:
        yield url


def test_twenty_choices_then_the_ranking_certified_and_verified(
    server: str,
    page: Any,
    session: Session,
    clock: FrozenClock,
    engine: Engine,
    tmp_path: Path,
    make_user: Callable[..., User],
) -> None:
    owner = make_user("owner@example.com")
    consumer = make_user("consumer@example.com")
    # A consumer of some standing (tests/http/test_head_to_head_round.py shows a new
    # account's quick choices counted too: the method's pace scales fraud layer 1).
    consumer.created_at = clock.now() - timedelta(days=60)
    session.add(consumer)
    world = make_voting_world(
        session,
        owner,
        now=clock.now(),
        ideas=6,
        method="head_to_head",
        max_votes=60,
        visibility="live",
    )
    for name in ("Grape", "Hazel"):  # eight ideas: 28 pairs, enough for twenty choices
        session.add(
            Idea(
                campaign_id=world.campaign.id,  # type: ignore[arg-type]
                author_id=owner.id,  # type: ignore[arg-type]
                title=f"Idea {name}",
                description=f"All about {name}.",
                status=IdeaStatus.APPROVED,
                submitted_at=world.stage.opens_at - timedelta(days=5),
            )
        )
    session.commit()
    apple = world.ideas[0].title
    problems = watch(page)  # CSP is bypassed for axe; `watch` still sees script errors
    log_in(page, server, consumer, world.ballot_url)
    results_url = f"{server}/c/{world.campaign.slug}/results"
    page.goto(results_url)
    before = page.locator(".battle-results tbody tr").all_inner_texts()
    assert len(before) == 8 and all("+0.00 (-1.96 to +1.96)" in row for row in before)
    page.goto(f"{server}{world.ballot_url}")
    expect(page.get_by_role("heading", name="Which idea do you prefer?")).to_be_visible()
    assert_accessible(page, "head-to-head ballot", tmp_path)
    assert no_horizontal_scroll(page)  # still 360 px wide: the two ideas stack
    page.set_viewport_size({"width": 1280, "height": 900})
    page.evaluate("window.stillTheSamePage = true")  # gone if the page reloads

    # The first choice with the keyboard alone: Tab to the left idea's button, Enter.
    keyboard = page.keyboard
    for _n in range(80):
        keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "battle-left":
            break
    else:
        raise AssertionError("Tab never reached the first idea's button")
    keyboard.press("Enter")
    count = page.locator("#battle-count")
    expect(count).to_have_text("You have made 1 choice in this round.")
    expect(page.get_by_text("Your choice is recorded.")).to_be_visible()
    assert page.evaluate("document.activeElement.id") == "battle-left"  # focus kept

    # Nineteen more: Apple whenever it is shown, else the left idea; "can't decide" twice.
    for n in range(2, CHOICES + 1):
        left = page.locator("#battle-left-title").text_content()
        right = page.locator("#battle-right-title").text_content()
        if n in (7, 13) and apple not in (left, right):
            page.locator("#battle-tie").click()
        elif right == apple:
            page.locator("#battle-right").click()
        else:
            page.locator("#battle-left").click()
        expect(count).to_have_text(f"You have made {n} choices in this round.")
    assert page.evaluate("window.stillTheSamePage") is True
    session.rollback()
    made = session.exec(select(HeadToHeadChoice)).all()
    assert len(made) == CHOICES and {c.status for c in made} == {"counted"}

    # The live ranking has followed: ordered by score, the leader has won, Apple (never
    # beaten) is above the middle, and the order is the running statistics'.
    page.goto(results_url)
    rows = page.locator(".battle-results tbody tr").all_inner_texts()
    scores = [float(row.split("\t")[2].split()[0]) for row in rows]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0 > scores[-1]
    assert [i for i, row in enumerate(rows) if apple in row][0] < 4
    expect(page.get_by_text(f"{CHOICES} choices counted in all.")).to_be_visible()
    assert_accessible(page, "head-to-head live results", tmp_path)

    # Closed and certified: the certified ranking, and the command agrees with it.
    clock.at = world.stage.closes_at + DAY
    session.rollback()
    round_ = session.get(Round, world.round.id)
    assert round_ is not None
    certify_round(session=session, round_=round_, now=clock.now())
    session.commit()
    winner = session.exec(
        select(Idea.title)
        .join(RoundResult, col(RoundResult.idea_id) == Idea.id)
        .where(RoundResult.position == 1)
    ).one()
    page.goto(results_url)
    expect(page.get_by_text("certified", exact=True)).to_be_visible()
    expect(page.locator(".battle-results tbody tr").first).to_contain_text(winner)
    assert_accessible(page, "head-to-head certified results", tmp_path)
    verified = run_verify(engine, tmp_path, world.campaign.slug)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert problems == []
