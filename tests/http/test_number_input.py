"""Numbers in paths, query strings and forms: an id no row can have is a 404, a number
nobody writes ("²", "١٢") is a 400 or a form error in the visitor's language; never a 500.
(`cocreate.integers`; unit tests of the parser in tests/unit/test_integers.py.)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import Session
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from cocreate.accounts.models import User
from cocreate.campaigns.models import StageKind
from cocreate.integers import IdConvertor
from tests.conftest import csrf_from, log_in, post_form
from tests.results_support import Contest, make_contest

HUGE_IDS = [str(2**31), str(2**63), str(10**30)]


def _routes(app: Any) -> Iterator[Route]:
    for route in app.routes:
        if isinstance(route, Route):
            yield route
        else:
            assert isinstance(route, Mount), f"unexpected route type {route!r}"


def _numeric(route: Route) -> list[str]:
    """The route's path parameters that hold a number (whatever convertor reads them)."""
    return [name for name, c in route.param_convertors.items() if isinstance(c.convert("1"), int)]


@pytest.fixture
def contest(session: Session) -> Contest:
    return make_contest(session, brand_slug="crispy", slug="flavour", later=(StageKind.JURY,))


@pytest.fixture
def admin(client: TestClient, contest: Contest, make_user: Any) -> User:
    """Signed in as an admin: every access rule lets the request through to its handler."""
    user: User = make_user("admin@example.com", admin=True)
    log_in(client, user)
    return user


def test_every_id_in_a_path_is_read_by_the_id_convertor(app: Any) -> None:
    numeric = [(r.path, name) for r in _routes(app) for name in _numeric(r)]
    assert len(numeric) >= 15
    plain = [
        (path, name)
        for path, name in numeric
        if not isinstance(_route(app, path).param_convertors[name], IdConvertor)
    ]
    assert not plain, f"use {{name:id}}, not {{name:int}}: {plain}"


def _route(app: Any, path: str) -> Route:
    return next(r for r in _routes(app) if r.path == path)


def test_ids_no_row_can_have_are_not_found_on_every_route(
    client: TestClient, app: Any, contest: Contest, admin: User
) -> None:
    token = csrf_from(client, "/account")
    samples = {"brand": contest.brand.slug, "slug": contest.campaign.slug}
    checked = 0
    for route in _routes(app):
        numeric = _numeric(route)
        if not numeric:
            continue
        for huge in HUGE_IDS:
            values = {name: samples.get(name, "1") for name in route.param_convertors}
            for name in numeric:
                path = route.path_format.format(**{**values, name: huge})
                for method in sorted((route.methods or set()) - {"HEAD"}):
                    data = {"csrf_token": token} if method == "POST" else None
                    response = client.request(method, path, data=data)
                    assert response.status_code == 404, (method, path, response.status_code)
                    checked += 1
    assert checked >= 50


def test_malformed_numbers_in_query_strings_are_bad_requests(
    client: TestClient, contest: Contest, admin: User
) -> None:
    jury = f"/brands/crispy/campaigns/flavour/jury/score?stage={contest.jury_stage.id}"
    for path in [
        "/c/flavour/results?round=%C2%B2",
        "/c/flavour/results?round=1&page=%C2%B2",
        "/c/flavour/results.csv?round=%D9%A1%D9%A2",
        "/c/flavour/votes.csv?round=-1",
        "/c/flavour/results?round=x",
        "/brands/crispy/moderation/next?after=%C2%B2",
        "/brands/crispy/campaigns/flavour/jury/score?stage=%C2%B2",
        f"{jury}&idea=%C2%B2",
    ]:
        assert client.get(path).status_code == 400, path


def test_out_of_range_ids_in_query_strings_are_not_found(
    client: TestClient, contest: Contest, admin: User
) -> None:
    for huge in HUGE_IDS:
        for path in [
            f"/c/flavour/results?round={huge}",
            f"/brands/crispy/moderation/next?after={huge}",
        ]:
            assert client.get(path).status_code == 404, path


def test_a_cursor_or_filter_that_is_not_ours_shows_the_first_page(
    client: TestClient, contest: Contest, admin: User
) -> None:
    held = f"/brands/crispy/fraud/rounds/{contest.round.id}/held"
    for cursor in ["%C2%B2-1", f"1-{2**63}", "1-%D9%A1"]:
        assert client.get(f"{held}?after={cursor}").status_code == 200, cursor
    for round_filter in ["%C2%B2", str(2**63)]:  # a filter among others, all ignored when bad
        assert client.get(f"/brands/crispy/fraud?round={round_filter}").status_code == 200
    queue = "/brands/crispy/moderation?after=2026-01-01T00:00:00%7C"
    for idea in ["%C2%B2", str(2**63), "%EF%BC%91"]:
        assert client.get(queue + idea).status_code == 200, idea


def test_malformed_ids_in_hidden_fields_are_bad_requests(
    client: TestClient, contest: Contest, admin: User
) -> None:
    jury = "/brands/crispy/campaigns/flavour/jury"
    stage = str(contest.jury_stage.id)
    held = f"/brands/crispy/fraud/rounds/{contest.round.id}/held/decide"
    for path, data in [
        ("/brands/crispy/moderation/bulk", {"idea": "²", "bulk_action": "approve"}),
        ("/brands/crispy/moderation/undo", {"decision": "١٢"}),
        ("/brands/crispy/fraud/scan", {"round": "²"}),
        (held, {"action": "count-²"}),
        (held, {"action": "void", "voter": "²", "reason": "ring"}),
        (f"{jury}/score", {"stage_id": stage, "idea_id": "²"}),
        (f"{jury}/decide", {"round_id": str(contest.round.id), "idea": "²"}),
    ]:
        response = post_form(client, path, data, page="/account")
        assert response.status_code == 400, (path, data, response.status_code)


@pytest.mark.parametrize(
    ("path", "data", "error"),
    [
        (
            "/brands/crispy/moderation/settings",
            {"report_threshold": "²", "builtin_reasons": "spam"},
            "Saisissez un nombre entier de 1 à 1000.",
        ),
        (
            "/brands/crispy/campaigns/flavour/jury/criteria",
            {"stage_id": "{jury}", "name": "Taste", "weight": "²"},
            "Indiquez un poids de 1 à 100.",
        ),
        (
            "/brands/crispy/campaigns/flavour/jury/settings",
            {"stage_id": "{jury}", "picks": "١٢"},
            "Indiquez un nombre de 1 à",
        ),
        (
            "/brands/crispy/campaigns/flavour/results/certify",
            {"round_id": "²"},
            "Ce tour n’existe plus : rechargez la page.",
        ),
    ],
)
def test_typed_numbers_nobody_writes_are_form_errors_in_the_visitors_language(
    client: TestClient,
    contest: Contest,
    admin: User,
    path: str,
    data: dict[str, str],
    error: str,
) -> None:
    assert (
        post_form(client, "/language", {"locale": "fr", "next": "/"}, page="/account").status_code
        == 303
    )
    filled = {k: v.replace("{jury}", str(contest.jury_stage.id)) for k, v in data.items()}
    response = post_form(client, path, filled, page="/account")
    assert response.status_code == 400, response.status_code
    assert error in response.text
