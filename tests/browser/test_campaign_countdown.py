"""The countdown script in Debian's Chromium against a real uvicorn server (no CSP errors)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session

from cocreate.campaigns.models import CampaignStatus, StageKind
from cocreate.clock import FrozenClock
from tests.browser.inprocess import served
from tests.campaigns_support import add_stages, make_brand, make_campaign

pytestmark = pytest.mark.browser


@pytest.fixture
def server(app: Any) -> Iterator[str]:
    with served(app) as url:
        yield url


def test_the_countdown_keeps_time_and_says_when_the_timeline_moves_on(
    server: str, page: Any, session: Session, clock: FrozenClock
) -> None:
    # The server's clock stands still; the script counts on from the server's "now".
    clock.at = datetime.now(UTC)
    brand = make_brand(session)
    soon = make_campaign(session, brand, "soon", status=CampaignStatus.PUBLISHED)
    add_stages(
        session,
        soon,
        [(StageKind.SUBMISSION, clock.at - timedelta(days=1), clock.at + timedelta(seconds=3))],
    )
    later = make_campaign(session, brand, "later", status=CampaignStatus.PUBLISHED)
    add_stages(
        session,
        later,
        [
            (
                StageKind.SUBMISSION,
                clock.at + timedelta(days=2, hours=4, minutes=30),
                clock.at + timedelta(days=9),
            )
        ],
    )
    problems: list[str] = []
    page = page

    def on_console(message: Any) -> None:
        # Chromium asks for /favicon.ico on its own: it is served, so no exception here.
        if message.type == "error":
            problems.append(f"{message.text} at {message.location}")

    page.on("console", on_console)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("response", lambda r: problems.append(r.url) if r.status >= 400 else None)

    page.goto(f"{server}/c/later")
    countdown = page.locator(".countdown")
    assert countdown.inner_text() == "Idea submission opens in 2 days 4 hours"
    page.wait_for_timeout(1500)  # the script has ticked and kept the same words
    assert countdown.inner_text() == "Idea submission opens in 2 days 4 hours"

    page.goto(f"{server}/c/soon")
    assert page.locator(".countdown").inner_text() == "Idea submission closes in less than a minute"
    page.locator(".countdown", has_text="reload the page").wait_for(timeout=8000)
    assert problems == []  # no CSP violation, no script error
