"""The winners page celebrates (issue 19): each winner's picture, author, story and rank,
share links; and the platform's default share picture where nothing else is drawn."""

from __future__ import annotations

from PIL import Image
from sqlmodel import Session
from starlette.testclient import TestClient

from cocreate.clock import FrozenClock
from cocreate.results.certify import certify_round
from cocreate.web import STATIC_DIR
from tests.campaigns_support import visible_text
from tests.http.test_results_pages import CLOSED, voted


def test_the_winners_page_shows_each_winners_picture_author_story_and_rank(
    client: TestClient, session: Session, clock: FrozenClock
) -> None:
    contest = voted(session, advancement_value=2, later=())
    before = client.get("/c/flavour/winners").text
    assert "winner-body" not in before  # nothing to celebrate before the count is certified

    winner = contest.ideas[0]
    winner.description = "Slow-roasted and **smoky**, like a summer evening."
    winner.image_key = "ideas/7/photo"
    session.add(winner)
    session.commit()
    clock.at = CLOSED
    certify_round(session=session, round_=contest.round, now=CLOSED)
    page = client.get("/c/flavour/winners").text
    text = visible_text(page)
    stories = page.count('<div class="winner-body">')
    assert stories == 2
    assert '<img class="thumb" src="/media/ideas/7/photo/large.jpg"' in page
    assert '<svg class="art art-' in page  # the other winner has no photo: its art
    assert "<strong>smoky</strong>" in page and "**" not in text
    assert "By " in text and "No. 1" in text and "No. 2" in text
    assert f'href="/c/flavour/ideas/{winner.id}"' in page
    assert "https://www.facebook.com/sharer/sharer.php?u=" in page  # share buttons
    assert '<meta property="og:image" content="' in page


def test_the_platform_page_has_a_default_share_picture(client: TestClient) -> None:
    page = client.get("/").text
    assert '<meta property="og:image" content="http' in page
    assert "/static/og-default.png" in page
    picture = client.get("/static/og-default.png")
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/png"
    with Image.open(STATIC_DIR / "og-default.png") as image:
        assert image.size == (1200, 630)
