"""CSRF, security headers, cookies, redirects, rate limits and sessions, as a browser sees them."""

from __future__ import annotations

import dataclasses
import html
import json
import re
import secrets
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import pytest
import redis
from starlette.testclient import TestClient
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from cocreate.accounts import service as accounts_service
from cocreate.accounts.models import User
from cocreate.app import create_app
from cocreate.clock import FrozenClock
from cocreate.fraud import challenge
from cocreate.security.ratelimit import RateLimiter
from cocreate.settings import Settings
from tests.conftest import (
    IN_CI,
    PASSWORD,
    Mailbox,
    csrf_from,
    free_port,
    log_in,
    post_form,
)

REDIS_URL = "redis://127.0.0.1:6379/0"


def client_at(app: Any, ip: str) -> TestClient:
    """A browser at another address (the rate limits count per IP)."""
    return TestClient(app, base_url="http://testserver", follow_redirects=False, client=(ip, 50000))


@pytest.fixture
def app_with(settings: Settings, engine: Any, clock: FrozenClock) -> Callable[..., Any]:
    """An app built from the test settings with a few of them changed."""

    def make(**changes: Any) -> Any:
        return create_app(dataclasses.replace(settings, **changes), clock=clock)

    return make


# --- CSRF -------------------------------------------------------------------------------


def test_post_without_csrf_token_is_refused_with_a_friendly_page(
    client: TestClient, make_user: Callable[..., User]
) -> None:
    user = make_user()
    client.get("/login")
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 403
    assert "This form has expired" in response.text
    assert "reload the page" in response.text
    assert client.get("/account").status_code == 303  # not logged in


def test_post_with_a_wrong_or_foreign_token_is_refused(client: TestClient) -> None:
    other = TestClient(client.app, base_url="http://testserver")
    foreign_token = csrf_from(other)
    csrf_from(client)
    for token in (foreign_token, "", "x" * 43, foreign_token + "x"):
        response = client.post("/language", data={"csrf_token": token, "locale": "fr"})
        assert response.status_code == 403, token
    assert 'lang="en"' in client.get("/login").text


def test_post_without_any_session_is_refused(client: TestClient) -> None:
    response = client.post("/language", data={"csrf_token": "anything", "locale": "fr"})
    assert response.status_code == 403
    assert "This form has expired" in response.text


def test_csrf_failure_page_is_in_french_for_a_french_browser(client: TestClient) -> None:
    client.headers["accept-language"] = "fr"
    response = client.post("/language", data={"locale": "en"})
    assert response.status_code == 403
    assert "Ce formulaire a expiré" in response.text
    assert '<html lang="fr">' in response.text


def test_token_in_the_x_csrftoken_header_works_for_htmx(client: TestClient) -> None:
    token = csrf_from(client)
    response = client.post(
        "/language",
        data={"locale": "fr", "next": "/login"},
        headers={"X-CSRFToken": token, "HX-Request": "true"},
    )
    assert response.status_code == 303
    assert "Se connecter" in client.get("/login").text
    altered = token[:-1] + ("B" if token.endswith("A") else "A")  # always a different token
    wrong = client.post("/language", data={"locale": "en"}, headers={"X-CSRFToken": altered})
    assert wrong.status_code == 403


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example"},
        {"origin": "http://testserver.evil.example"},
        {"origin": "http://evil.example", "sec-fetch-site": "same-origin"},
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "cross-site", "origin": "http://testserver"},
    ],
)
def test_cross_site_posts_are_refused_even_with_the_token(
    client: TestClient, make_user: Callable[..., User], headers: dict[str, str]
) -> None:
    user = make_user()
    token = csrf_from(client)
    response = client.post(
        "/login",
        data={"csrf_token": token, "email": user.email, "password": PASSWORD},
        headers=headers,
    )
    assert response.status_code == 403
    assert "This form has expired" in response.text
    assert client.get("/account").status_code == 303


@pytest.mark.parametrize(
    "headers",
    [{}, {"origin": "http://testserver"}, {"sec-fetch-site": "same-origin"}, {"origin": "null"}],
)
def test_same_site_posts_with_the_token_are_accepted(
    client: TestClient, make_user: Callable[..., User], headers: dict[str, str]
) -> None:
    user = make_user()
    token = csrf_from(client)
    response = client.post(
        "/login",
        data={"csrf_token": token, "email": user.email, "password": PASSWORD},
        headers=headers,
    )
    assert response.status_code == 303


def test_log_in_starts_a_new_session_with_a_new_token(
    client: TestClient, make_user: Callable[..., User]
) -> None:
    """Session fixation: a token (and cookie) planted before log-in is worthless after."""
    before = csrf_from(client)
    log_in(client, make_user())
    after = csrf_from(client, "/account")
    assert before != after
    response = client.post("/language", data={"csrf_token": before, "locale": "fr"})
    assert response.status_code == 403


# --- headers and cookies ----------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/login", "/no-such-page", "/static/app.css", "/healthz"])
def test_security_headers_on_every_response(client: TestClient, path: str) -> None:
    headers = client.get(path).headers
    csp = headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert directives["form-action"] == "'self'"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert headers["x-frame-options"] == "DENY"
    assert "strict-transport-security" not in headers  # plain http in tests


def test_pages_have_no_inline_script(client: TestClient) -> None:
    for path in ("/", "/login", "/signup", "/password/forgot"):
        html = client.get(path).text
        assert "<script>" not in html and " onclick=" not in html, path
        assert html.count("<script") == html.count('<script src="/static/'), path


def test_session_cookie_is_http_only_and_same_site_lax(client: TestClient) -> None:
    cookie = client.get("/login").headers["set-cookie"]
    parts = [p.strip().lower() for p in cookie.split(";")]
    assert parts[0].startswith("cocreate_session=")
    assert "httponly" in parts
    assert "samesite=lax" in parts
    assert "secure" not in parts  # http://: a Secure cookie would never come back


def test_session_cookie_is_secure_and_hsts_is_sent_over_https(app_with: Any) -> None:
    app = app_with(base_url="https://cocreate.example")
    with TestClient(app, base_url="https://cocreate.example") as https_client:
        response = https_client.get("/login")
    parts = [p.strip().lower() for p in response.headers["set-cookie"].split(";")]
    assert "secure" in parts and "httponly" in parts and "samesite=lax" in parts
    assert response.headers["strict-transport-security"].startswith("max-age=")


# --- redirects after log-in and language change -----------------------------------------

EVIL_NEXT = [
    "//evil.example",
    "///evil.example",
    "https://evil.example",
    "http:evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "/\t/evil.example",
    "/\n/evil.example",
    " //evil.example",
    "\x00//evil.example",
    "\uff0f\uff0fevil.example",
    "evil.example",
    "/" + "a" * 3000,
]


def assert_stays_on_site(location: str) -> None:
    # Browsers treat "\" as "/" and drop tabs and newlines before resolving a URL.
    assert "\\" not in location and not any(ord(c) < 32 for c in location), location
    resolved = urlsplit(urljoin("http://testserver/login", location))
    assert resolved.scheme == "http" and resolved.netloc == "testserver", location
    assert not location.startswith("//"), location


@pytest.mark.parametrize("target", EVIL_NEXT)
def test_next_after_log_in_only_goes_to_this_site(
    client: TestClient, make_user: Callable[..., User], target: str
) -> None:
    user = make_user()
    response = post_form(
        client, "/login", {"email": user.email, "password": PASSWORD, "next": target}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    # Signed in, /login?next= redirects at once: the same rule applies.
    again = client.get("/login?next=" + quote(target, safe=""))
    assert again.headers["location"] == "/"


@pytest.mark.parametrize("target", EVIL_NEXT)
def test_next_after_choosing_a_language_only_goes_to_this_site(
    client: TestClient, target: str
) -> None:
    response = post_form(client, "/language", {"locale": "fr", "next": target})
    assert response.status_code == 303
    assert_stays_on_site(response.headers["location"])
    assert response.headers["location"] == "/"


def test_next_to_a_page_of_this_site_is_kept(
    client: TestClient, make_user: Callable[..., User]
) -> None:
    user = make_user()
    response = post_form(
        client, "/login", {"email": user.email, "password": PASSWORD, "next": "/account?tab=2"}
    )
    assert response.headers["location"] == "/account?tab=2"


def test_a_refused_page_sends_to_log_in_and_back(client: TestClient) -> None:
    response = client.get("/account?x=1")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/account%3Fx%3D1"


# --- rate limits ------------------------------------------------------------------------


def failed_log_in(c: TestClient, email: str) -> int:
    return int(post_form(c, "/login", {"email": email, "password": "not the password"}).status_code)


def test_log_in_is_limited_per_ip_across_many_accounts(
    app_with: Any, make_user: Callable[..., User]
) -> None:
    app = app_with(login_ip_rate_limit="4/15 minutes")
    user = make_user("victim@example.com")
    with client_at(app, "203.0.113.7") as guesser, client_at(app, "198.51.100.2") as other:
        for n in range(4):
            assert failed_log_in(guesser, f"someone{n}@example.com") == 400
        # From this address even the right password is refused now...
        response = post_form(guesser, "/login", {"email": user.email, "password": PASSWORD})
        assert response.status_code == 429
        assert "Too many attempts" in response.text
        assert failed_log_in(guesser, "someone-else@example.com") == 429
        # ...while the account's owner elsewhere is not locked out.
        response = post_form(other, "/login", {"email": user.email, "password": PASSWORD})
        assert response.status_code == 303


def solved_proof(page: str) -> str:
    """The proof of work a log-in page asks for, solved as the browser would."""
    found = re.search(r'data-pow-challenge="([^"]+)"', page)
    assert found, "the page asks for no proof of work"
    solution = challenge.solve(json.loads(html.unescape(found.group(1))))
    assert solution is not None
    return challenge.encode(solution)


def test_log_in_to_one_account_from_many_ips_asks_for_a_proof_of_work(
    app_with: Any, make_user: Callable[..., User]
) -> None:
    app = app_with(login_account_rate_limit="3/15 minutes", pow_max_number=2000)
    user = make_user("target@example.com")
    for n in range(3):
        with client_at(app, f"192.0.2.{n + 1}") as c:
            assert failed_log_in(c, "TARGET@example.com") == 400
    with client_at(app, "192.0.2.200") as c:
        response = post_form(c, "/login", {"email": user.email, "password": PASSWORD})
        assert response.status_code == 400
        assert "solve a quick check" in response.text
        assert "data-pow-manual" in response.text
        assert c.get("/account").status_code == 303  # not signed in without the proof
        proof = solved_proof(response.text)
        response = post_form(
            c, "/login", {"email": user.email, "password": PASSWORD, "altcha": proof}
        )
        assert response.status_code == 303
        assert c.get("/account").status_code == 200
    with client_at(app, "192.0.2.201") as c:
        # A spent proof is refused, and another account is not concerned.
        response = post_form(
            c, "/login", {"email": user.email, "password": PASSWORD, "altcha": proof}
        )
        assert response.status_code == 400 and "not valid or took too long" in response.text
        other = make_user("bystander@example.com")
        response = post_form(c, "/login", {"email": other.email, "password": PASSWORD})
        assert response.status_code == 303


def test_a_guesser_behind_many_addresses_cannot_lock_the_owner_out(
    app_with: Any, make_user: Callable[..., User], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Served as `cocreate serve` does behind a proxy: X-Forwarded-For believed from it only.
    app = app_with(trusted_proxies=("127.0.0.1",), pow_max_number=2000)
    served = ProxyHeadersMiddleware(app, trusted_hosts=list(app.state.settings.trusted_proxies))
    checked: list[str] = []
    real_verify = accounts_service.verify_password

    def counting_verify(password_hash: str | None, password: str, **kwargs: Any) -> bool:
        checked.append(password)
        return real_verify(password_hash, password, **kwargs)

    monkeypatch.setattr(accounts_service, "verify_password", counting_verify)
    user = make_user("victim@example.com")
    email = user.email or ""
    with client_at(served, "127.0.0.1") as proxy:
        answers = []
        for n in range(100):
            proxy.headers["x-forwarded-for"] = f"198.18.{n}.1"
            answers.append(
                post_form(proxy, "/login", {"email": email, "password": f"guess {n:03}"}).text
            )
        assert sum("do not match an account" in a for a in answers) == 10
        assert sum("solve a quick check" in a for a in answers) == 90
        assert len(checked) == 10  # the challenged guesses were never hashed
        # Guessers who pay the proof of work are checked, and fail.
        for n in range(5):
            proxy.headers["x-forwarded-for"] = f"198.19.{n}.1"
            asked = post_form(proxy, "/login", {"email": email, "password": "paid guess"})
            data = {"email": email, "password": "paid guess", "altcha": solved_proof(asked.text)}
            assert "do not match an account" in post_form(proxy, "/login", data).text
        assert len(checked) == 15
        assert proxy.get("/account").status_code == 303

        # The owner at home still gets in, after their browser's check.
        proxy.headers["x-forwarded-for"] = "203.0.113.80"
        asked = post_form(proxy, "/login", {"email": email, "password": PASSWORD})
        assert asked.status_code == 400 and "solve a quick check" in asked.text
        data = {"email": email, "password": PASSWORD, "altcha": solved_proof(asked.text)}
        assert post_form(proxy, "/login", data).status_code == 303
        assert proxy.get("/account").status_code == 200


def test_too_many_attempts_page_is_in_french(app_with: Any) -> None:
    app = app_with(login_rate_limit="1/15 minutes")
    with client_at(app, "192.0.2.9") as c:
        c.headers["accept-language"] = "fr"
        failed_log_in(c, "a@example.com")
        response = post_form(c, "/login", {"email": "a@example.com", "password": "x" * 12})
        assert response.status_code == 429
        assert "Trop de tentatives" in response.text


def test_the_proof_of_work_asked_at_log_in_is_explained_in_french(app_with: Any) -> None:
    app = app_with(login_account_rate_limit="1/15 minutes")
    with client_at(app, "192.0.2.10") as c:
        failed_log_in(c, "b@example.com")
    with client_at(app, "192.0.2.11") as c:
        c.headers["accept-language"] = "fr"
        response = post_form(c, "/login", {"email": "b@example.com", "password": "x" * 12})
        assert response.status_code == 400
        assert "votre navigateur doit donc résoudre une vérification rapide" in response.text
        assert "Votre navigateur fait une vérification rapide…" in response.text


def test_sign_up_is_limited_per_ip(app_with: Any) -> None:
    app = app_with(signup_rate_limit="3/hour")

    def sign_up(c: TestClient, n: int) -> Any:
        data = {"email": f"new{n}@example.com", "display_name": "New", "password": "short"}
        return post_form(c, "/signup", data, page="/signup")

    with client_at(app, "203.0.113.50") as c:
        for n in range(3):
            assert sign_up(c, n).status_code == 400  # weak password: still counted
        response = sign_up(c, 3)
        assert response.status_code == 429
        assert "Too many attempts" in response.text
    with client_at(app, "203.0.113.51") as c:
        assert sign_up(c, 4).status_code == 400


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own in the real Redis; its keys are deleted afterwards."""
    try:
        server = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        server.ping()
    except redis.RedisError as exc:
        if IN_CI:
            pytest.fail(f"Redis at {REDIS_URL} is required when CI=true: {exc}")
        pytest.skip(f"!!! SKIPPED: Redis at {REDIS_URL} is not available ({exc})")
    prefix = f"cocreate-test-{secrets.token_hex(6)}"
    try:
        yield prefix
    finally:
        keys = list(server.scan_iter(f"{prefix}*"))
        if keys:
            server.delete(*keys)
        server.close()


def test_redis_shares_log_in_counts_between_two_workers(
    app_with: Any, make_user: Callable[..., User], redis_prefix: str
) -> None:
    user = make_user("shared@example.com")
    workers = [app_with(redis_url=REDIS_URL, login_rate_limit="4/15 minutes") for _ in "ab"]
    for worker in workers:
        worker.state.rate_limiter = RateLimiter(REDIS_URL, key_prefix=redis_prefix)
    with client_at(workers[0], "198.51.100.9") as a, client_at(workers[1], "198.51.100.9") as b:
        assert failed_log_in(a, user.email or "") == 400
        assert failed_log_in(b, user.email or "") == 400
        assert failed_log_in(a, user.email or "") == 400
        assert failed_log_in(b, user.email or "") == 400
        for c in (a, b):
            response = post_form(c, "/login", {"email": user.email, "password": PASSWORD})
            assert response.status_code == 429
    server = redis.Redis.from_url(REDIS_URL)
    assert list(server.scan_iter(f"{redis_prefix}*")), "the counts were not kept in Redis"
    workers[0].state.rate_limiter.reset()
    assert not list(server.scan_iter(f"{redis_prefix}*"))
    server.close()


def test_log_in_keeps_working_and_limited_when_redis_is_down(
    app_with: Any, make_user: Callable[..., User], caplog: pytest.LogCaptureFixture
) -> None:
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    app = app_with(redis_url=dead_redis, login_rate_limit="2/15 minutes")
    user = make_user("redis-down@example.com")
    with client_at(app, "198.51.100.10") as c:
        response = post_form(c, "/login", {"email": user.email, "password": PASSWORD})
        assert response.status_code == 303
        post_form(c, "/logout", page="/account")
        assert failed_log_in(c, user.email or "") == 400
        assert failed_log_in(c, user.email or "") == 400
        response = post_form(c, "/login", {"email": user.email, "password": PASSWORD})
        assert response.status_code == 429
    assert "rate-limit storage unavailable" in caplog.text


# --- sessions ---------------------------------------------------------------------------


def test_password_reset_signs_out_the_other_browsers(
    app: Any, make_user: Callable[..., User], mailbox: Mailbox, deliver: Any
) -> None:
    user = make_user("two@example.com")
    with client_at(app, "192.0.2.30") as laptop, client_at(app, "192.0.2.31") as phone:
        log_in(laptop, user)
        assert laptop.get("/account").status_code == 200
        post_form(phone, "/password/forgot", {"email": user.email})
        deliver()
        link = urlsplit(mailbox.last_link("two@example.com")).path
        response = post_form(phone, link, {"password": "a fresh long passphrase"}, page=link)
        assert response.status_code == 303
        assert phone.get("/account").status_code == 200  # the resetting browser is signed in
        response = laptop.get("/account")
        assert response.status_code == 303  # the other one is not
        assert response.headers["location"].startswith("/login")
        assert failed_log_in(laptop, user.email or "") == 400  # the old password is gone


def test_a_forged_session_cookie_is_ignored(client: TestClient) -> None:
    client.cookies.set("cocreate_session", "eyJ1aWQiOiAxfQ==.forged.signature")
    response = client.get("/account")
    assert response.status_code == 303
    assert client.get("/login").status_code == 200
