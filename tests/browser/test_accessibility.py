"""The pages of signing in and of a worker under attack, looked at in Chromium at 1280 and
360 px: axe-core finds no WCAG A/AA violation, nothing sticks out sideways on a phone, and
the forms work with the keyboard alone. The busy page is a real 503: the only request thread
of a tight server waits on a lock while the browser asks for a page."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2
import pytest
from playwright.sync_api import expect
from sqlalchemy.engine import Engine

from cocreate.accounts import login_limits
from cocreate.accounts.login_limits import limits
from cocreate.accounts.models import User
from tests.browser.a11y import assert_accessible, no_horizontal_scroll, violations
from tests.browser.inprocess import served
from tests.browser.test_ballot import server  # noqa: F401  (fixture)
from tests.conftest import PASSWORD, csrf_from, log_in
from tests.http.test_request_model import lock_held_on, tight_app  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    """axe-core is injected as a script of the page, which the pages' CSP rightly refuses:
    these contexts bypass it (the other browser tests keep it and report its violations)."""
    return {**browser_context_args, "bypass_csp": True}


def test_the_check_finds_what_is_wrong(page: Any) -> None:
    # The same check on a page built to fail it: no language, an image without text, a
    # button without a name, grey on white.
    page.set_content(
        "<html><body><main><img src='data:image/gif;base64,R0lGODlhAQABAAAAACw='>"
        "<button></button><p style='color:#bbb;background:#fff'>faint</p></main></body></html>"
    )
    found = " ".join(violations(page))
    for rule in ("html-has-lang", "image-alt", "button-name", "color-contrast"):
        assert rule in found, found


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("home", "/"),
        ("log in", "/login"),
        ("sign up", "/signup"),
        ("forgotten password", "/password/forgot"),
        ("not found", "/no-such-page"),
    ],
)
def test_the_pages_of_signing_in_are_accessible(
    server: str,  # noqa: F811
    page: Any,
    tmp_path: Path,
    name: str,
    path: str,
) -> None:
    page.goto(f"{server}{path}")
    assert_accessible(page, name, tmp_path)
    assert no_horizontal_scroll(page), f"{name} scrolls sideways at 360 px"


def test_the_log_in_check_is_accessible_and_works_with_the_keyboard(
    server: str,  # noqa: F811
    app: Any,
    page: Any,
    tmp_path: Path,
    make_user: Callable[..., User],
) -> None:
    user = make_user("keyboard@example.com")
    per_account = limits(app.state.settings)[2]
    key = login_limits.account_key(app.state.settings.secret_key, str(user.email))
    while app.state.rate_limiter.hit(per_account, key):  # guessers from everywhere
        pass
    page.goto(f"{server}/login?next=/account")
    page.get_by_label("Email address").fill(str(user.email))
    page.get_by_label("Password").fill("a wrong guess")
    page.get_by_label("Password").press("Enter")
    expect(page.get_by_text("must solve a quick check")).to_be_visible()
    assert_accessible(page, "log in check", tmp_path)
    assert no_horizontal_scroll(page), "the log-in check scrolls sideways at 360 px"

    # Keyboard only: into the password field, type, and Enter submits once the check is done.
    page.get_by_label("Email address").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.type") == "password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server}/account", timeout=15_000)


def _until_saturated(url: str) -> None:
    """Wait until the server says its request threads are all taken (`/readyz`, answered by
    the event loop alone)."""
    deadline = time.monotonic() + 10
    with httpx2.Client(base_url=url, timeout=5) as probe:
        while probe.get("/readyz").status_code != 503:
            assert time.monotonic() < deadline, "the request never took the server's thread"
            time.sleep(0.02)


@pytest.fixture
def busy_server(tight_app: Any) -> Iterator[str]:  # noqa: F811
    with served(tight_app) as url:
        yield url


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_busy_page_is_accessible(
    busy_server: str,
    engine: Engine,
    browser: Any,
    tmp_path: Path,
    make_user: Callable[..., User],
    language: str,
) -> None:
    user = make_user()
    assert user.id is not None
    context = browser.new_context(locale=language, bypass_csp=True)
    page = context.new_page()
    with httpx2.Client(base_url=busy_server, follow_redirects=False, timeout=15) as client:
        log_in(client, user)
        token = csrf_from(client, "/account")
        with ThreadPoolExecutor(1) as pool, lock_held_on(engine, user.id):
            # The server's only request thread now waits on the lock.
            waiting = pool.submit(
                client.post, "/language", data={"csrf_token": token, "locale": "fr", "next": "/"}
            )
            _until_saturated(busy_server)  # the POST holds the only thread (not still on its way)
            response = page.goto(f"{busy_server}/")
            assert response is not None and response.status == 503
            heading = "Very busy right now" if language == "en" else "Très forte affluence"
            expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
            assert_accessible(page, f"busy {language}", tmp_path)
        assert waiting.result(timeout=10).status_code == 303
    context.close()
