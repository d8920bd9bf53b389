"""Moderators and jurors see the idea's photo (issue 19): it was only in the public pages."""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session
from starlette.testclient import TestClient

from cocreate.accounts.models import User
from cocreate.clock import FrozenClock
from tests.conftest import log_in
from tests.http.test_results_pages import jury_contest  # noqa: F401  (fixture)
from tests.moderation_support import build_world, make_idea
from tests.results_support import Contest, add_juror


def test_the_moderation_item_shows_the_ideas_photo(
    client: TestClient, session: Session, make_user: Callable[..., User], clock: FrozenClock
) -> None:
    world = build_world(session, make_user)
    pictured = make_idea(session, world.campaign, world.author, "Smoked chipotle", clock=clock)
    plain = make_idea(session, world.campaign, world.author, "Plain salt", clock=clock)
    pictured.image_key = "ideas/0123456789abcdef01234567"
    session.add(pictured)
    session.commit()
    log_in(client, world.moderator)
    page = client.get(f"/brands/crispy-co/moderation/ideas/{pictured.id}").text
    assert (
        '<img class="media-thumb" src="/media/ideas/0123456789abcdef01234567/large.jpg"'
        ' alt="Smoked chipotle">' in page
    )
    page = client.get(f"/brands/crispy-co/moderation/ideas/{plain.id}").text
    assert "media-thumb" not in page  # no photo, no empty box


def test_the_jury_scoring_page_shows_the_ideas_photo(
    client: TestClient,
    session: Session,
    jury_contest: Contest,  # noqa: F811
) -> None:
    juror = add_juror(session, jury_contest.brand, "juror@example.com")
    a = jury_contest.ideas[0]
    a.image_key = "ideas/fedcba9876543210fedcba98"
    session.add(a)
    session.commit()
    log_in(client, juror)
    stage = jury_contest.jury_stage.id
    page = client.get(f"/brands/crispy/campaigns/flavour/jury/score?stage={stage}&idea={a.id}")
    assert page.status_code == 200
    assert (
        '<img class="media-thumb" src="/media/ideas/fedcba9876543210fedcba98/large.jpg"'
        ' alt="Idea A">' in page.text
    )
