"""A moderator voids a fraud case in Chromium, against `cocreate serve`, and the round's
public results page shows the recounted votes at once."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect
from sqlmodel import Session, select

from cocreate.accounts.models import User
from cocreate.brands.models import Role
from cocreate.fraud import cases
from cocreate.fraud.models import FraudCase
from cocreate.voting.service import live_tally, recount
from tests.brand_factories import add_member
from tests.browser.conftest import LiveServer
from tests.conftest import PASSWORD, reload
from tests.fraud_support import make_attacked
from tests.results_support import DAY, T0

pytestmark = pytest.mark.browser


def test_a_moderator_voids_a_case_and_the_results_change(
    page: Page, live_server: LiveServer, session: Session, make_user: Callable[..., User]
) -> None:
    attacked = make_attacked(session)
    moderator = make_user("mod@example.com", name="Mia Moderator")
    add_member(session, attacked.contest.brand, moderator, Role.MODERATOR)
    loaded = cases.read_round_log(session=session, round_id=attacked.contest.round.id or 0)
    cases.store_findings(
        session=session,
        round_=attacked.contest.round,
        loaded=loaded,
        findings=[attacked.finding(session)],
        now=T0 + 3 * DAY,
    )
    case = session.exec(select(FraudCase)).one()
    problems: list[str] = []

    def note(message: ConsoleMessage) -> None:
        if message.type == "error" and not message.location["url"].endswith("/favicon.ico"):
            problems.append(f"{message.text} ({message.location['url']})")

    page.on("console", note)
    results = f"{live_server.url}/c/flavour/results?round=1"
    page.goto(results)
    idea_e = page.locator("table.results-table tr", has_text="Idea E")
    idea_a = page.locator("table.results-table tr", has_text="Idea A")
    expect(idea_e.locator("td").nth(2)).to_have_text("4")  # 1 honest + 3 counted ring votes
    expect(idea_a.locator("td").nth(2)).to_have_text("6")

    page.goto(f"{live_server.url}/login")
    page.get_by_label("Email address").fill(moderator.email or "")
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("main").get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/brands/crispy")
    page.get_by_role("link", name="Fraud review").click()
    expect(page.get_by_role("heading", name="Fraud review")).to_be_visible()
    page.get_by_role("link", name=f"#{case.id} · Lockstep ring").click()
    expect(page.get_by_role("heading", name=f"Case #{case.id}: Lockstep ring")).to_be_visible()
    expect(page.locator("svg.timeline rect.target").first).to_be_attached()
    page.get_by_label("Reason (required)").first.fill("Four accounts on one network in minutes")
    page.get_by_role("button", name="Void the votes").click()
    expect(
        page.get_by_text("The case's votes are void (8). The results are recounted.")
    ).to_be_visible()
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "voided")

    page.goto(results)
    expect(idea_e.locator("td").nth(2)).to_have_text("1")
    expect(idea_a.locator("td").nth(2)).to_have_text("2")
    assert problems == []
    reload(session, case)
    assert case.status == "voided" and case.decided_by_id == moderator.id
    round_id = attacked.contest.round.id or 0
    assert live_tally(session=session, round_id=round_id) == recount(
        session=session, round_id=round_id
    )
