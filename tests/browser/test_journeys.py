"""Whole journeys in Chromium against a real server: what a person clicks and reads."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from cocreate.accounts.models import Identity, User
from tests.browser.conftest import LiveServer

pytestmark = pytest.mark.browser


def test_sign_up_verify_log_in_read_french_and_log_out(
    page: Page, live_server: LiveServer, session: Session
) -> None:
    page.goto(f"{live_server.url}/signup")
    page.get_by_label("Your name, as others will see it").fill("Léa")
    page.get_by_label("Email address").fill("lea@example.com")
    page.get_by_label("Password").fill("a long and memorable passphrase")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()

    page.goto(live_server.wait_for_mail("lea@example.com"))
    expect(page).to_have_url(f"{live_server.url}/login")
    expect(page.get_by_text("Your email address is verified. Welcome!")).to_be_visible()

    page.get_by_label("Email address").fill("lea@example.com")
    page.get_by_label("Password").fill("a long and memorable passphrase")
    page.locator("main").get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name="Léa")).to_be_visible()

    page.get_by_role("button", name="Français").click()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    logout = page.get_by_role("button", name="Se déconnecter")
    expect(logout).to_be_visible()
    user = session.exec(select(User).where(User.email == "lea@example.com")).one()
    assert user.is_verified and user.locale == "fr"  # the choice follows the account

    logout.click()
    expect(page.get_by_text("Vous êtes déconnecté")).to_be_visible()
    expect(page.get_by_role("link", name="Se connecter")).to_be_visible()
    expect(page.get_by_role("link", name="Léa")).to_have_count(0)


def test_sign_in_with_the_openid_provider_round_trip(
    page: Page, live_server: LiveServer, session: Session
) -> None:
    sub = f"browser-{uuid.uuid4().hex}"
    live_server.provider.set_user(sub, email="noor@example.com", email_verified=True, name="Noor")

    page.goto(f"{live_server.url}/login")
    page.get_by_role("link", name="Continue with Mock ID").click()
    expect(page).to_have_url(re.compile(re.escape(live_server.provider.issuer) + "/oauth2/"))
    page.get_by_placeholder("sub").fill(sub)
    page.get_by_role("button", name="Authorize").click()

    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_role("link", name="Noor")).to_be_visible()
    page.get_by_role("link", name="Noor").click()
    expect(page.get_by_text("noor@example.com")).to_be_visible()
    expect(page.get_by_text("not verified yet")).to_have_count(0)
    identity = session.exec(select(Identity).where(Identity.subject == sub)).one()
    assert session.get(User, identity.user_id) is not None
