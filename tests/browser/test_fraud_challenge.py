"""The proof-of-work challenge solved by the page's own JavaScript in Chromium: with htmx (the
vote block turns into the check, then into the counted vote) and without it (the full page)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, col, select

from cocreate.accounts.models import User
from cocreate.clock import FrozenClock
from cocreate.voting.models import Vote, VoteStatus
from tests.browser.test_ballot import log_in, server, watch  # noqa: F401  (fixture)
from tests.voting_support import make_voting_world

pytestmark = pytest.mark.browser

# A new account scores 20: a round that checks every vote above 10 challenges this voter.
POLICY = {"challenge_above": 10, "refuse_above": 90, "middle": "challenge"}


def stored(session: Session, voter: User) -> list[tuple[int, str, str | None]]:
    session.rollback()
    rows = session.exec(
        select(Vote.idea_id, Vote.status, Vote.status_reason).where(
            Vote.voter_id == voter.id, col(Vote.withdrawn_at).is_(None)
        )
    ).all()
    return sorted((int(i), str(s), r) for i, s, r in rows)


def test_the_page_solves_the_challenge_and_the_vote_counts(
    server: str,  # noqa: F811
    page: Any,
    session: Session,
    clock: FrozenClock,
    make_user: Callable[..., User],
) -> None:
    owner = make_user("owner@example.com")
    voter = make_user("newcomer@example.com")
    world = make_voting_world(session, owner, now=clock.now(), max_votes=2, fraud_policy=POLICY)
    apple, basil = world.ideas[0], world.ideas[1]
    problems = watch(page)
    log_in(page, server, voter, world.ballot_url)
    page.evaluate("window.stillTheSamePage = true")
    page.locator(f"#vote-button-{apple.id}").click()
    card = page.locator(f"#idea-{apple.id}")
    expect(card.get_by_text("is counted")).to_be_visible(timeout=15_000)
    assert page.evaluate("window.stillTheSamePage") is True  # htmx all along
    expect(page.locator("#ballot-counter")).to_have_text("Votes left: 1 of 2")
    reason = "challenge solved: risk 20 above 10"
    assert stored(session, voter) == [(apple.id, VoteStatus.COUNTED, reason)]

    # Without htmx (a plain form post), the challenge is a page of its own that solves itself
    # and posts the vote, then goes back to the ballot.
    form = page.locator(f"#idea-{basil.id} form")
    form.evaluate("f => HTMLFormElement.prototype.submit.call(f)")  # no submit event: no htmx
    page.wait_for_url(f"**{world.ballot_url}#idea-{basil.id}", timeout=15_000)
    assert [s for _i, s, _r in stored(session, voter)] == [VoteStatus.COUNTED] * 2
    assert problems == []
