"""Friendly error pages, in English and French, that give nothing away."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.testclient import TestClient

from cocreate.accounts.models import User
from cocreate.security.access import ADMIN, PUBLIC, VERIFIED, route
from tests.conftest import csrf_from, log_in

SECRET = "db-password-hunter2 at /srv/cocreate/secret.py"


async def explode(request: Request) -> Response:
    raise RuntimeError(SECRET)


async def fine(request: Request) -> Response:
    return Response("fine")


@pytest.fixture
def test_app(app: Any) -> Any:
    """The app plus routes that exist only in tests: one that fails, some that need a role."""
    app.router.routes.extend(
        [
            route("/test/explode", explode, access=PUBLIC, methods=["GET", "POST"]),
            route("/test/admin-only", fine, access=ADMIN),
            route("/test/verified-only", fine, access=VERIFIED),
        ]
    )
    return app


@pytest.fixture
def visitor(test_app: Any) -> Any:
    with TestClient(
        test_app,
        base_url="http://testserver",
        follow_redirects=False,
        raise_server_exceptions=False,  # see the 500 page a browser would get
    ) as c:
        yield c


def french(c: TestClient) -> TestClient:
    c.headers["accept-language"] = "fr-FR,fr;q=0.9,en;q=0.5"
    return c


def assert_error_page(response: Any, status: int, title: str, *, lang: str = "en") -> None:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert f'<html lang="{lang}">' in html
    assert f"<h1>{title}</h1>" in html, html
    assert f'<p class="status-code">{status}</p>' in html
    assert "Traceback" not in html and 'File "' not in html
    assert "content-security-policy" in response.headers


CASES = [
    # (status, how to get it, English title, French title)
    (400, "bad multipart", "Bad request", "Requête incorrecte"),
    (403, "not an admin", "Not allowed", "Accès refusé"),
    (403, "unverified", "Please verify your email", "Veuillez vérifier votre adresse e-mail"),
    (403, "no csrf token", "This form has expired", "Ce formulaire a expiré"),
    (404, "unknown page", "Page not found", "Page introuvable"),
    (404, "unknown campaign", "Page not found", "Page introuvable"),
    (405, "GET a POST-only page", "Method not allowed", "Méthode non autorisée"),
    (500, "a bug", "Something went wrong", "Une erreur s’est produite"),
]


def provoke(c: TestClient, how: str, make_user: Callable[..., User]) -> Any:
    if how == "bad multipart":
        token = csrf_from(c)
        return c.post(
            "/language",
            content=b"--x\r\nbroken",
            headers={"content-type": "multipart/form-data", "x-csrftoken": token},
        )
    if how == "not an admin":
        log_in(c, make_user())
        return c.get("/test/admin-only")
    if how == "unverified":
        log_in(c, make_user(verified=False))
        return c.get("/test/verified-only")
    if how == "no csrf token":
        c.get("/login")
        return c.post("/language", data={"locale": "en"})
    if how == "unknown page":
        return c.get("/no/such/page")
    if how == "unknown campaign":
        log_in(c, make_user())  # a signed-in visitor: the page shows the account too
        return c.get("/c/no-such-campaign")
    if how == "GET a POST-only page":
        return c.get("/logout")
    if how == "a bug":
        return c.get("/test/explode")
    raise AssertionError(how)


@pytest.mark.parametrize(("status", "how", "title", "_fr"), CASES, ids=[c[1] for c in CASES])
def test_error_page_in_english(
    visitor: TestClient,
    make_user: Callable[..., User],
    test_app: Any,
    status: int,
    how: str,
    title: str,
    _fr: str,
) -> None:
    response = provoke(visitor, how, make_user)
    assert_error_page(response, status, title)
    assert test_app.state.db.engine.pool.checkedout() == 0, "a connection was left open"


@pytest.mark.parametrize(("status", "how", "_en", "title"), CASES, ids=[c[1] for c in CASES])
def test_error_page_in_french(
    visitor: TestClient,
    make_user: Callable[..., User],
    status: int,
    how: str,
    _en: str,
    title: str,
) -> None:
    response = provoke(french(visitor), how, make_user)
    assert_error_page(response, status, title, lang="fr")


def test_405_says_which_methods_work(visitor: TestClient) -> None:
    response = visitor.get("/logout")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


def test_500_page_gives_nothing_away(visitor: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    response = visitor.post("/test/explode", data={"x": "1"})
    assert response.status_code in (403, 500)  # a POST without a token never reaches the bug
    response = visitor.get("/test/explode")
    assert response.status_code == 500
    assert SECRET not in response.text and "RuntimeError" not in response.text
    assert "An error happened on our side. Please try again." in response.text
    assert SECRET in caplog.text, "the operator must still see what happened"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_error_pages_follow_the_language_saved_on_the_account(
    visitor: TestClient, make_user: Callable[..., User], session: Session
) -> None:
    user = make_user()
    user.locale = "fr"
    session.add(user)
    session.commit()
    log_in(visitor, user)
    response = visitor.get("/no/such/page")  # the visitor itself asks for English
    assert_error_page(response, 404, "Page introuvable", lang="fr")
    assert user.display_name in response.text  # still signed in on the error page


def test_error_pages_for_htmx_requests_are_full_pages(visitor: TestClient) -> None:
    response = visitor.get("/no/such/page", headers={"HX-Request": "true"})
    assert_error_page(response, 404, "Page not found")
