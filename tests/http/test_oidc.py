"""Sign-in with OpenID Connect against a real provider process (oidc-provider-mock).

The platform runs in the TestClient; the provider's consent form is submitted over real HTTP
and the URL it redirects to is fed back to the TestClient, as a browser would follow it. The
platform itself fetches discovery, keys and tokens from the provider over real HTTP.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import pytest
from sqlmodel import Session, select
from starlette.testclient import TestClient

from cocreate.accounts.models import Identity, User
from cocreate.settings import OIDCProvider, Settings
from tests.conftest import PASSWORD, Mailbox, free_port, log_in, oidc_config, post_form, reload
from tests.oidc_provider import Provider, local_path


@pytest.fixture
def settings(settings: Settings, oidc_provider: Provider) -> Settings:
    down = OIDCProvider(
        name="down",
        label="Down ID",
        issuer=f"http://127.0.0.1:{free_port()}",  # nothing listens there
        client_id="cocreate-tests",
        client_secret="cocreate-tests-secret",
    )
    return replace(settings, oidc_providers=(oidc_config(oidc_provider), down))


def new_subject() -> str:
    return f"person-{uuid.uuid4().hex}"  # the provider outlives each test: never reuse one


def start(client: TestClient, provider: Provider, next_url: str | None = None) -> str:
    """Press "Continue with Mock ID": the provider's authorization URL we are sent to."""
    query = f"?next={quote(next_url)}" if next_url else ""
    response = client.get(f"/login/oidc/mockid{query}")
    assert response.status_code == 302, response.text
    return str(response.headers["location"])


def sign_in(client: TestClient, provider: Provider, sub: str, next_url: str | None = None) -> Any:
    callback = provider.consent(start(client, provider, next_url), sub)
    assert callback.startswith("http://testserver/login/oidc/mockid/callback?"), callback
    return client.get(local_path(callback))


def test_login_page_offers_each_configured_provider(client: TestClient) -> None:
    page = client.get("/login?next=/account")
    assert 'href="/login/oidc/mockid?next=/account"' in page.text
    assert "Continue with Mock ID" in page.text and "Continue with Down ID" in page.text


def test_first_sign_in_creates_a_verified_account_and_logs_in(
    client: TestClient, oidc_provider: Provider, session: Session
) -> None:
    sub = new_subject()
    oidc_provider.set_user(sub, email="Chloe@Example.com", email_verified=True, name="Chloé Roux")

    response = sign_in(client, oidc_provider, sub, next_url="/account")

    assert response.status_code == 303
    assert response.headers["location"] == "/account"
    account = client.get("/account")
    assert account.status_code == 200
    assert "Chloé Roux" in account.text and "chloe@example.com" in account.text
    assert "not verified yet" not in account.text
    user = session.exec(select(User)).one()
    assert user.email == "chloe@example.com" and user.is_verified and user.password_hash is None
    identity = session.exec(select(Identity)).one()
    assert (identity.user_id, identity.issuer, identity.subject, identity.provider) == (
        user.id,
        oidc_provider.issuer,
        sub,
        "mockid",
    )


def test_second_sign_in_with_the_same_subject_opens_the_same_account(
    client: TestClient, oidc_provider: Provider, session: Session
) -> None:
    sub = new_subject()
    oidc_provider.set_user(sub, email="dora@example.com", email_verified=True, name="Dora")
    assert sign_in(client, oidc_provider, sub).status_code == 303
    assert post_form(client, "/logout", page="/account").status_code == 303
    assert client.get("/account").status_code == 303  # logged out

    # The provider now reports another address and name: the subject still decides.
    oidc_provider.set_user(sub, email="dora.new@example.com", email_verified=True, name="D.")
    response = sign_in(client, oidc_provider, sub)

    assert response.status_code == 303 and response.headers["location"] == "/"
    account = client.get("/account")
    assert account.status_code == 200 and "dora@example.com" in account.text
    assert len(session.exec(select(User)).all()) == 1
    assert len(session.exec(select(Identity)).all()) == 1


def test_verified_email_of_a_password_account_links_to_it(
    client: TestClient, oidc_provider: Provider, session: Session, make_user: Any
) -> None:
    owner = make_user("emma@example.com", name="Emma")
    sub = new_subject()
    oidc_provider.set_user(sub, email="EMMA@example.com", email_verified=True, name="E. Other")

    assert sign_in(client, oidc_provider, sub).status_code == 303

    account = client.get("/account")
    assert account.status_code == 200 and "Emma" in account.text
    identity = session.exec(select(Identity)).one()
    assert identity.user_id == owner.id and identity.subject == sub
    assert len(session.exec(select(User)).all()) == 1
    # The password keeps working next to the provider.
    post_form(client, "/logout", page="/account")
    log_in(client, owner)


def test_unverified_email_of_an_existing_account_is_refused_without_a_link(
    client: TestClient, oidc_provider: Provider, session: Session, make_user: Any
) -> None:
    make_user("farid@example.com")
    sub = new_subject()
    oidc_provider.set_user(sub, email="farid@example.com", email_verified=False)

    response = sign_in(client, oidc_provider, sub)

    assert response.status_code == 409
    assert "This email already has an account" in response.text
    assert "Mock ID did not confirm that this email address is yours" in response.text
    assert session.exec(select(Identity)).first() is None
    assert client.get("/account").status_code == 303  # not signed in


def test_email_without_a_verified_claim_counts_as_unverified(
    client: TestClient, oidc_provider: Provider, session: Session, make_user: Any
) -> None:
    make_user("gus@example.com")
    sub = new_subject()
    oidc_provider.set_user(sub, email="gus@example.com")  # no email_verified claim at all

    assert sign_in(client, oidc_provider, sub).status_code == 409
    assert session.exec(select(Identity)).first() is None


def test_verified_email_of_an_unverified_account_drops_the_password_set_by_someone_else(
    client: TestClient,
    oidc_provider: Provider,
    session: Session,
    make_user: Any,
    app: Any,
) -> None:
    # Someone signed up with Hana's address before her and never proved the mailbox.
    squatted = make_user("hana@example.com", verified=False, name="Squatter")
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as squatter:
        log_in(squatter, squatted)
        sub = new_subject()
        oidc_provider.set_user(sub, email="hana@example.com", email_verified=True, name="Hana")

        assert sign_in(client, oidc_provider, sub).status_code == 303

        assert client.get("/account").status_code == 200
        reload(session, squatted)
        assert squatted.is_verified and squatted.password_hash is None
        assert squatter.get("/account").status_code == 303  # their session is over
        response = post_form(
            squatter, "/login", {"email": "hana@example.com", "password": PASSWORD}
        )
        assert response.status_code == 400


def test_unverified_email_of_a_new_account_becomes_its_address_once_confirmed(
    client: TestClient,
    oidc_provider: Provider,
    session: Session,
    mailbox: Mailbox,
    deliver: Any,
) -> None:
    sub = new_subject()
    oidc_provider.set_user(sub, email="ines@example.com", email_verified=False, name="Inès")

    assert sign_in(client, oidc_provider, sub).status_code == 303

    account = client.get("/account")
    assert account.status_code == 200 and "Inès" in account.text
    assert "Please confirm your email address" in account.text
    user = session.exec(select(User)).one()
    # Not claimed yet: whoever owns the mailbox can still sign up with it.
    assert user.email is None and user.pending_email == "ines@example.com"
    assert deliver() == 1
    assert mailbox.to("ines@example.com")[0]["Subject"] == "Confirm your new email address"
    response = client.get(local_path(mailbox.last_link("ines@example.com")))
    assert response.status_code == 303
    reload(session, user)
    assert user.email == "ines@example.com" and user.is_verified


def test_tampered_state_gives_the_friendly_page(
    client: TestClient, oidc_provider: Provider, session: Session
) -> None:
    sub = new_subject()
    oidc_provider.set_user(sub, email="jo@example.com", email_verified=True)
    callback = urlsplit(oidc_provider.consent(start(client, oidc_provider), sub))
    query = dict(parse_qsl(callback.query))
    query["state"] = query["state"][:-3] + "xyz"

    response = client.get(f"{callback.path}?{urlencode(query)}", headers={"Accept-Language": "fr"})

    assert response.status_code == 400
    assert "La connexion n’a pas abouti" in response.text and "Mock ID" in response.text
    assert session.exec(select(User)).first() is None
    assert client.get("/account").status_code == 303


def test_a_callback_works_only_once(client: TestClient, oidc_provider: Provider) -> None:
    sub = new_subject()
    oidc_provider.set_user(sub, email="kim@example.com", email_verified=True)
    callback = local_path(oidc_provider.consent(start(client, oidc_provider), sub))
    assert client.get(callback).status_code == 303
    post_form(client, "/logout", page="/account")

    response = client.get(callback)

    assert response.status_code == 400 and "Sign-in did not work" in response.text


def test_refused_consent_gives_the_friendly_page(
    client: TestClient, oidc_provider: Provider, session: Session
) -> None:
    callback = oidc_provider.deny(start(client, oidc_provider))
    assert "error=access_denied" in callback

    response = client.get(local_path(callback))

    assert response.status_code == 400 and "Sign-in did not work" in response.text
    assert session.exec(select(User)).first() is None


def test_callback_without_a_sign_in_in_progress_gives_the_friendly_page(
    client: TestClient,
) -> None:
    response = client.get("/login/oidc/mockid/callback?code=forged&state=forged")
    assert response.status_code == 400 and "Sign-in did not work" in response.text


@pytest.mark.parametrize("path", ["/login/oidc/nope", "/login/oidc/nope/callback?state=x"])
def test_unknown_provider_is_not_found(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404 and "Page not found" in response.text


def test_unreachable_provider_gives_the_friendly_page(client: TestClient) -> None:
    response = client.get("/login/oidc/down")

    assert response.status_code == 502
    assert "We could not complete the sign-in with Down ID" in response.text
    assert 'href="/login"' in response.text
