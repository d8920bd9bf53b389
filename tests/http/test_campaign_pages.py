"""The public campaign list and campaign page: order, timeline, countdown, actions, sharing."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlmodel import Session, select
from starlette.testclient import TestClient

from cocreate.brands.models import Brand, Role
from cocreate.campaigns.models import Campaign, CampaignStatus, Stage, StageKind
from cocreate.clock import FrozenClock
from cocreate.web import make_templates
from tests.campaigns_support import (
    add_member,
    add_stages,
    make_brand,
    make_campaign,
    visible_text,
)
from tests.conftest import log_in

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def frozen(clock: FrozenClock) -> FrozenClock:
    clock.at = T0
    return clock


@pytest.fixture
def acme(session: Session) -> Brand:
    return make_brand(session, "acme", "Acme")


@pytest.fixture
def campaign(session: Session, acme: Brand) -> Campaign:
    made = make_campaign(
        session,
        acme,
        "summer",
        title="Summer flavours",
        status=CampaignStatus.PUBLISHED,
        summary="Invent the *taste* of summer & win.",
        brief="## Your mission\n\nTell us **everything**. <img src=x onerror=alert(1)>",
        rules="1. Be kind\n2. [Read this](javascript:alert(1))",
        prizes="A year of crisps.",
    )
    add_stages(
        session,
        made,
        [
            (StageKind.SUBMISSION, T0, T0 + 10 * DAY),
            (StageKind.VOTING, T0 + 12 * DAY, T0 + 20 * DAY),
            (StageKind.ANNOUNCEMENT, T0 + 20 * DAY, T0 + 30 * DAY),
        ],
    )
    return made


def test_the_campaign_page_renders_the_markdown_safely(
    client: TestClient, campaign: Campaign
) -> None:
    page = client.get("/c/summer").text
    assert "<h2>Your mission</h2>" in page and "<strong>everything</strong>" in page
    assert "<ol>" in page and "<li>Be kind</li>" in page
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert 'href="javascript' not in page
    assert "A year of crisps." in page


def test_the_page_follows_the_clock(
    client: TestClient, campaign: Campaign, frozen: FrozenClock
) -> None:
    frozen.at = T0 - 2 * DAY - 4 * timedelta(hours=1)
    text = visible_text(client.get("/c/summer").text)
    assert "Idea submission opens in 2 days 4 hours" in text
    assert "Nothing to do just yet" in text
    assert "Submit an idea" not in text

    frozen.at = T0 + DAY
    page = client.get("/c/summer").text
    text = visible_text(page)
    assert "Idea submission closes in 9 days" in text
    assert 'href="/c/summer/ideas/new"' in page and "Submit an idea" in text
    assert re.search(
        r'<li class="stage stage-open" aria-current="step">\s*'
        r'<p class="stage-name"><strong>Idea submission',
        page,
    )

    frozen.at = T0 + 10 * DAY + timedelta(hours=1)
    page = client.get("/c/summer").text
    text = visible_text(page)
    assert "Voting opens in 1 day 23 hours" in text
    assert "/c/summer/ideas/new" not in page and "Browse the ideas" in text

    frozen.at = T0 + 13 * DAY
    page = client.get("/c/summer").text
    assert "Vote for ideas" in visible_text(page) and 'href="/c/summer/vote"' in page

    frozen.at = T0 + 21 * DAY
    assert "The winners are announced!" in visible_text(client.get("/c/summer").text)

    frozen.at = T0 + 31 * DAY
    text = visible_text(client.get("/c/summer").text)
    assert (
        "This campaign is over" in text and " in " not in text.split("What you can do now")[1][:40]
    )


def test_the_countdown_carries_what_the_script_needs(
    client: TestClient, campaign: Campaign, frozen: FrozenClock
) -> None:
    frozen.at = T0 + DAY
    page = client.get("/c/summer").text
    assert f'data-countdown-to="{(T0 + 10 * DAY).isoformat()}"' in page
    assert f'data-countdown-now="{(T0 + DAY).isoformat()}"' in page
    assert 'data-day-other="%(num)d days"' in page
    assert '<strong class="countdown-time">9 days</strong>' in page


def test_the_page_speaks_french(
    client: TestClient, campaign: Campaign, frozen: FrozenClock
) -> None:
    frozen.at = T0 + 10 * DAY + timedelta(hours=1)
    page = client.get("/c/summer", headers={"Accept-Language": "fr"}).text
    text = visible_text(page)
    assert "Vote : ouverture dans 1 jour 23 heures" in text
    assert "Ce que vous pouvez faire maintenant" in text
    assert 'data-day-other="%(num)d jours"' in page


def test_share_tags_and_canonical_address(client: TestClient, campaign: Campaign) -> None:
    page = client.get("/c/summer").text
    assert '<link rel="canonical" href="http://testserver/c/summer">' in page
    assert '<meta property="og:title" content="Summer flavours">' in page
    assert '<meta property="og:url" content="http://testserver/c/summer">' in page
    # The description is plain text: markdown gone, "&" escaped once.
    assert (
        '<meta property="og:description" content="Invent the taste of summer &amp; win.">' in page
    )
    # Without a cover the link still shows a picture: the campaign's share card.
    assert '<meta name="twitter:card" content="summary_large_image">' in page
    assert re.search(
        r'<meta property="og:image" content="http://testserver/c/summer/card\.png\?v=\w{16}">', page
    )
    for link in (
        "facebook.com/sharer",
        "x.com/intent/post",
        "linkedin.com/sharing",
        "wa.me/",
        "mailto:",
    ):
        assert link in page


def test_a_cover_image_is_shown_and_shared(
    client: TestClient, session: Session, campaign: Campaign
) -> None:
    campaign.cover_image = "covers/summer"  # the image's folder; the page shows its large JPEG
    session.add(campaign)
    session.commit()
    page = client.get("/c/summer").text
    assert '<img class="cover" src="/media/covers/summer/large.jpg" alt="">' in page
    # The share card shows the cover (the card's own tests draw it).
    assert "/c/summer/card.png?v=" in page
    assert '<meta name="twitter:card" content="summary_large_image">' in page


TRICKY_URL = "https://example.com/c/été?a=1&b=2#top"
TRICKY_TEXT = 'Fish & "chips" + 100% <b>crunch</b>'


def share_links(url: str, text: str) -> dict[str, str]:
    template = make_templates().env.get_template("_partials/share.html")
    html = template.render(share_url=url, share_text=text, csrf_token=None)
    return {
        label: unescape(href) for href, label in re.findall(r'href="([^"]+)"[^>]*>([^<]+)<', html)
    }


def test_share_links_carry_the_url_and_text_exactly() -> None:
    links = share_links(TRICKY_URL, TRICKY_TEXT)
    assert parse_qs(urlsplit(links["Facebook"]).query) == {"u": [TRICKY_URL]}
    assert parse_qs(urlsplit(links["X"]).query) == {"text": [TRICKY_TEXT], "url": [TRICKY_URL]}
    assert parse_qs(urlsplit(links["LinkedIn"]).query) == {"url": [TRICKY_URL]}
    assert parse_qs(urlsplit(links["WhatsApp"]).query) == {"text": [f"{TRICKY_TEXT} {TRICKY_URL}"]}
    mail = urlsplit(links["Email"])
    assert mail.scheme == "mailto" and "+" not in mail.query.replace("%2B", "")
    assert parse_qs(mail.query) == {
        "subject": [TRICKY_TEXT],
        "body": [f"{TRICKY_TEXT}\r\n\r\n{TRICKY_URL}"],
    }


def test_the_share_bar_escapes_the_text_in_the_page() -> None:
    template = make_templates().env.get_template("_partials/share.html")
    html = template.render(share_url=TRICKY_URL, share_text=TRICKY_TEXT, csrf_token=None)
    assert "<b>" not in html and '"chips"' not in html


def test_the_list_shows_open_campaigns_first_and_hides_drafts_and_archives(
    client: TestClient, session: Session, acme: Brand
) -> None:
    def campaign(slug: str, opens: float, closes: float, status: CampaignStatus) -> None:
        made = make_campaign(session, acme, slug, title=slug.title(), status=status)
        add_stages(session, made, [(StageKind.SUBMISSION, T0 + opens * DAY, T0 + closes * DAY)])

    published = CampaignStatus.PUBLISHED
    campaign("finished", -20, -10, published)
    campaign("upcoming", 3, 10, published)
    campaign("open", -1, 5, published)
    campaign("hidden-draft", -1, 5, CampaignStatus.DRAFT)
    campaign("old-archive", -1, 5, CampaignStatus.ARCHIVED)
    text = visible_text(client.get("/").text)
    assert text.index("Open") < text.index("Upcoming") < text.index("Finished")
    assert "Hidden-Draft" not in text and "Old-Archive" not in text
    assert "Idea submission closes in 5 days" in text
    assert "Idea submission opens in 3 days" in text


def test_drafts_are_hidden_from_the_public_and_previewed_by_the_brand(
    client: TestClient, session: Session, acme: Brand, make_user: Any
) -> None:
    make_campaign(session, acme, "secret", title="Secret recipe")
    assert client.get("/c/secret").status_code == 404
    assert client.get("/brands/acme/campaigns/secret/preview").status_code == 303  # log in
    consumer = make_user()
    log_in(client, consumer)
    assert client.get("/c/secret").status_code == 404
    assert client.get("/brands/acme/campaigns/secret/preview").status_code == 403
    moderator = make_user()
    add_member(session, acme, moderator, Role.MODERATOR)
    client.cookies.clear()
    log_in(client, moderator)
    preview = client.get("/brands/acme/campaigns/secret/preview")
    assert preview.status_code == 200
    assert (
        "Secret recipe" in preview.text and '<meta name="robots" content="noindex">' in preview.text
    )
    assert "only members of Acme can see it" in visible_text(preview.text)
    assert client.get("/c/secret").status_code == 404  # the public address stays closed


def test_the_brand_colour_stylesheet(client: TestClient, campaign: Campaign) -> None:
    page = client.get("/c/summer").text
    assert '<link rel="stylesheet" href="/theme/b3261e.css?v=2">' in page
    assert '<body class="campaign-theme"' in page  # the header and every button wear it too
    gallery = client.get("/c/summer/ideas").text
    assert '<link rel="stylesheet" href="/theme/b3261e.css?v=2">' in gallery
    assert "/theme/" not in client.get("/").text  # the platform's own pages keep its colours
    css = client.get("/theme/b3261e.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "--brand: #b3261e;" in css.text and "immutable" in css.headers["cache-control"]
    for bad in (
        "/theme/red.css",
        "/theme/B3261E.css",
        "/theme/b3261e;x.css",
        "/theme/%3Cscript%3E.css",
    ):
        assert client.get(bad).status_code == 404, bad


def test_unknown_campaigns_are_not_found(client: TestClient, session: Session) -> None:
    assert client.get("/c/nothing-here").status_code == 404
    assert session.exec(select(Stage)).first() is None
