"""The design system in Chromium (issue 19): the campaign page, the gallery, the ballot, the
results and the winners of branded campaigns, at 1280 and 360 px, in the light and the dark
scheme. axe-core finds no WCAG 2.1 A/AA violation, nothing sticks out sideways on a phone,
the keyboard reaches the vote buttons, and they turn off (saying why) at 0 votes left.
Screenshots go to the test's folder (or $COCREATE_SCREENSHOTS) to be looked at."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import expect
from sqlmodel import Session

from cocreate.accounts.models import User
from cocreate.clock import FrozenClock
from cocreate.images import process_image, store_image
from cocreate.results.certify import certify_round
from tests.browser.a11y import assert_accessible, no_horizontal_scroll
from tests.browser.test_ballot import log_in, server, watch  # noqa: F401  (server: fixture)
from tests.results_support import make_contest, write_votes
from tests.voting_support import VotingWorld, make_voting_world

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    """axe-core is injected as a script of the page, which the CSP rightly refuses."""
    return {**browser_context_args, "bypass_csp": True}


def photo(colours: tuple[str, str]) -> bytes:
    """A stand-in for a consumer's photo: a warm gradient with a plate on it."""
    image = Image.new("RGB", (1200, 900), colours[0])
    draw = ImageDraw.Draw(image)
    for y in range(900):
        draw.line([(0, y), (1200, y)], fill=(240 - y // 8, 150 - y // 12, 60 + y // 20))
    draw.ellipse((300, 180, 900, 780), fill=colours[1])
    draw.ellipse((420, 300, 780, 660), fill="#f4e3c1")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def ballot_world(app: Any, session: Session, clock: FrozenClock, owner: User) -> VotingWorld:
    world = make_voting_world(session, owner, now=clock.now(), max_votes=2)
    world.campaign.primary_color = "#0f766e"
    world.campaign.summary = "Invent the crisp flavour the whole country will taste next summer."
    apple, basil = world.ideas[:2]
    apple.description = "Crisp **apple** with a pinch of _cinnamon_: sweet, then salty."
    basil.description = "Fresh **basil** and olive oil, like a summer terrace."
    for idea, colours in ((apple, ("#d35400", "#c0392b")), (basil, ("#27ae60", "#1e8449"))):
        idea.image_key = store_image(app.state.storage, process_image(photo(colours)))
    session.add_all([world.campaign, apple, basil])
    session.commit()
    return world


def certified_contest(session: Session, clock: FrozenClock) -> None:
    contest = make_contest(session, voters=3, later=(), advancement_value=2)
    contest.campaign.primary_color = "#f5c518"  # a light brand colour: dark ink on it
    contest.ideas[0].description = "Smoked **chipotle** and lime: the winner of the summer."
    session.add_all([contest.campaign, contest.ideas[0]])
    session.commit()
    v, (a, b, c, _d, _e) = contest.voters, contest.ideas
    write_votes(session, contest.round, [(v[0], a, 1), (v[1], a, 1), (v[2], a, 1)])
    write_votes(session, contest.round, [(v[0], b, 1), (v[1], b, 1), (v[0], c, 1)])
    certify_round(session=session, round_=contest.round, now=clock.now())


PAGES = [
    ("campaign", "/c/flavours"),
    ("gallery", "/c/flavours/ideas"),
    ("ballot", "/c/flavours/vote"),
    ("results", "/c/flavour/results"),
    ("winners", "/c/flavour/winners"),
]


def test_the_public_pages_look_right_and_pass_axe_in_both_schemes(
    server: str,  # noqa: F811
    app: Any,
    page: Any,
    session: Session,
    clock: FrozenClock,
    tmp_path: Path,
    make_user: Callable[..., User],
) -> None:
    world = ballot_world(app, session, clock, make_user("owner@example.com"))
    certified_contest(session, clock)
    voter = make_user("voter@example.com", name="Vera")
    problems = watch(page)
    log_in(page, server, voter, world.ballot_url)
    page.locator(f"#idea-{world.ideas[0].id}").get_by_role("button", name="Vote").click()
    expect(page.locator("#ballot-counter")).to_have_text("Votes left: 1 of 2")

    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme, reduced_motion="reduce")
        for name, path in PAGES:
            page.set_viewport_size({"width": 1280, "height": 900})
            page.goto(f"{server}{path}")
            assert_accessible(page, f"{name}-{scheme}", tmp_path)
            assert no_horizontal_scroll(page), f"{name} ({scheme}) scrolls sideways at 360 px"
    assert not [p for p in problems if "/media/" not in p], problems
    print(f"screenshots in {tmp_path}")  # noqa: T201  (to be looked at)


def test_the_keyboard_reaches_the_vote_buttons_and_they_turn_off_at_no_vote_left(
    server: str,  # noqa: F811
    app: Any,
    page: Any,
    session: Session,
    clock: FrozenClock,
    make_user: Callable[..., User],
) -> None:
    world = ballot_world(app, session, clock, make_user("owner@example.com"))
    log_in(page, server, make_user("voter@example.com"), world.ballot_url)
    page.locator("body").focus()
    reached = None
    for _ in range(60):
        page.keyboard.press("Tab")
        reached = page.evaluate("document.activeElement.id")
        if reached.startswith("vote-button-"):
            break
    assert reached and reached.startswith("vote-button-"), (
        f"Tab never reached a vote button ({reached})"
    )
    page.keyboard.press("Enter")  # votes for the focused idea
    expect(page.locator("#ballot-counter")).to_have_text("Votes left: 1 of 2")
    expect(page.locator(".entrant-vote.voted")).to_have_count(1)  # htmx settled the swap

    reason = page.locator("#no-votes-left")
    expect(reason).to_be_hidden()
    others = page.locator(".entrant-vote:not(.voted) button[id^='vote-button-']")
    others.first.click()
    expect(page.locator("#ballot-counter")).to_have_text("Votes left: 0 of 2")
    expect(page.locator(".entrant-vote.voted")).to_have_count(2)
    expect(reason).to_be_visible()
    for button in others.all():
        expect(button).to_be_disabled()
        expect(button).to_have_attribute("aria-describedby", "no-votes-left")

    page.locator(".entrant-vote.voted button").first.click()  # take one back
    expect(page.locator("#ballot-counter")).to_have_text("Votes left: 1 of 2")
    expect(page.locator(".entrant-vote.voted")).to_have_count(1)
    expect(reason).to_be_hidden()
    for button in page.locator(".entrant-vote:not(.voted) button[id^='vote-button-']").all():
        expect(button).to_be_enabled()

    page.reload()  # without the script's help: the server says the same
    expect(page.locator("#no-votes-left")).to_be_hidden()


def test_the_current_console_tab_is_visible_in_both_schemes(
    server: str,  # noqa: F811
    app: Any,
    page: Any,
    session: Session,
    clock: FrozenClock,
    tmp_path: Path,
    make_user: Callable[..., User],
) -> None:
    owner = make_user("owner@example.com")
    world = ballot_world(app, session, clock, owner)
    timeline = f"/brands/{world.brand.slug}/campaigns/{world.campaign.slug}/timeline"
    log_in(page, server, owner, timeline)
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.reload()
        current = page.locator('.tabs a[aria-current="page"]')
        expect(current).to_have_count(1)
        colours = current.evaluate(
            "a => { const s = getComputedStyle(a); return [s.color, s.backgroundColor]; }"
        )
        assert colours[0] != colours[1], colours  # it was text on its own colour
        assert_accessible(page, f"console-timeline-{scheme}", tmp_path)
