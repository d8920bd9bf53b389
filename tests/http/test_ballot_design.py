"""The ballot as issue 19 asked: each idea's picture, its text rendered, a link to it, and
vote buttons that go off, saying why, once no vote is left (with or without htmx)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from sqlmodel import Session
from starlette.testclient import TestClient

from cocreate.accounts.models import User
from tests.campaigns_support import visible_text
from tests.conftest import log_in
from tests.http.test_ballot import frozen, voter  # noqa: F401  (fixtures: T0, Vera)
from tests.voting_support import VotingWorld, htmx_post, make_voting_world, token

REASON = "You have used all your votes: take one back to vote for another idea."


@pytest.fixture
def world(session: Session, make_user: Callable[..., User]) -> VotingWorld:
    return make_voting_world(session, make_user("owner@example.com"), max_votes=2)


def vote_buttons(html: str) -> dict[int, str]:
    """Each idea's vote button (the whole tag), by idea id."""
    return {
        int(m.group(1)): m.group(0)
        for m in re.finditer(r'<button type="submit" id="vote-button-(\d+)"[^>]*>', html)
    }


def reason_shown(html: str) -> bool:
    found = re.search(r'<p id="no-votes-left" class="no-votes-left"( hidden)?>', html)
    assert found, "no reason paragraph on the ballot"
    return found.group(1) is None


def test_at_no_vote_left_the_other_buttons_are_off_and_say_why(
    client: TestClient,
    world: VotingWorld,
    voter: User,  # noqa: F811  (the fixture imported above)
) -> None:
    log_in(client, voter)
    apple, basil, cherry, date = world.ideas
    page = client.get(world.ballot_url).text
    assert not reason_shown(page)
    assert not any("disabled" in b for b in vote_buttons(page).values())

    csrf = token(client, world.ballot_url)
    client.post(world.vote_url(apple), data={"csrf_token": csrf})
    client.post(world.vote_url(basil), data={"csrf_token": csrf})
    page = client.get(world.ballot_url).text  # what a browser without JS shows next
    buttons = vote_buttons(page)
    for idea in (cherry, date):
        assert 'disabled aria-describedby="no-votes-left"' in buttons[idea.id or 0]
    for idea in (apple, basil):  # "Take back my vote" stays on
        assert "disabled" not in buttons[idea.id or 0]
    assert reason_shown(page) and REASON in visible_text(page)

    client.post(world.unvote_url(apple), data={"csrf_token": csrf})
    page = client.get(world.ballot_url).text
    assert not any("disabled" in b for b in vote_buttons(page).values())
    assert not reason_shown(page)


def test_the_htmx_answer_tells_the_page_to_turn_the_buttons_off_and_on(
    client: TestClient,
    world: VotingWorld,
    voter: User,  # noqa: F811  (the fixture imported above)
) -> None:
    log_in(client, voter)
    apple, basil = world.ideas[:2]
    csrf = token(client, world.ballot_url)

    def out(response: object) -> bool:
        header = response.headers["hx-trigger-after-swap"]  # type: ignore[attr-defined]
        return bool(json.loads(header)["ballot-votes"]["out"])

    assert out(htmx_post(client, world.vote_url(apple), csrf)) is False
    assert out(htmx_post(client, world.vote_url(basil), csrf)) is True
    assert out(htmx_post(client, world.unvote_url(basil), csrf)) is False


def test_each_idea_shows_its_picture_its_rendered_text_and_a_link(
    client: TestClient, session: Session, world: VotingWorld
) -> None:
    apple, basil = world.ideas[:2]
    apple.description = "A **smoked chipotle** crisp, with _lime_."
    apple.image_key = "ideas/1/abc"
    session.add(apple)
    session.commit()
    page = client.get(world.ballot_url).text
    assert "<strong>smoked chipotle</strong>" in page and "<em>lime</em>" in page
    assert "**" not in visible_text(page)
    for idea in world.ideas:
        assert f'<a href="/c/flavours/ideas/{idea.id}">{idea.title}</a>' in page
    assert f'<img class="thumb" src="/media/ideas/1/abc/thumb.webp" alt="{apple.title}"' in page
    # An idea without a photo gets its placeholder art, named by its title: no empty box.
    assert '<svg class="art art-' in page and f'aria-label="{basil.title}"' in page


def test_a_long_description_is_cut_as_plain_text(
    client: TestClient, session: Session, world: VotingWorld
) -> None:
    apple = world.ideas[0]
    apple.description = "**Bold start** " + "and a long story " * 60
    session.add(apple)
    session.commit()
    page = client.get(world.ballot_url).text
    assert "Bold start and a long story" in page and "**" not in visible_text(page)
    assert "…" in page
