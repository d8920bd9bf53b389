"""The log-in of an account under a distributed attack, in Chromium: the page asks for the
proof of work, the browser solves it while its owner types the password again, and they are in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from cocreate.accounts import login_limits
from cocreate.accounts.login_limits import limits
from cocreate.accounts.models import User
from tests.browser.test_ballot import server, watch  # noqa: F401  (fixture)
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_the_owner_logs_in_after_the_browser_solves_the_check(
    server: str,  # noqa: F811
    app: Any,
    page: Any,
    make_user: Callable[..., User],
) -> None:
    user = make_user("besieged@example.com")
    per_account = limits(app.state.settings)[2]
    while app.state.rate_limiter.hit(
        per_account, login_limits.account_key(app.state.settings.secret_key, str(user.email))
    ):  # guessers from everywhere
        pass
    problems = watch(page)
    page.goto(f"{server}/login?next=/account")
    page.get_by_label("Email address").fill(str(user.email))
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("main").get_by_role("button", name="Log in").click()
    expect(page.get_by_text("must solve a quick check")).to_be_visible()
    expect(page.get_by_label("Email address")).to_have_value(str(user.email))
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("main").get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{server}/account", timeout=15_000)
    # The only answer of 400 (and its console line) is the page that asked for the check:
    # no script error, no refused worker.
    assert problems[0] == f"{server}/login"
    assert len(problems) == 2 and "status of 400" in problems[1]
