"""Who may use what, for EVERY route of the app, derived from the access each route declares.

Adding a route without an access, or with a path parameter this file has no sample value for,
fails the suite: nobody can add a page without saying who may see it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session
from starlette.routing import BaseRoute, Mount, Route
from starlette.testclient import TestClient

from cocreate.accounts.models import User
from cocreate.brands.models import Brand, Invitation, Role
from cocreate.campaigns.models import Campaign, CampaignStatus, Stage, StageKind
from cocreate.ideas.models import Idea, IdeaStatus
from cocreate.security.access import ADMIN, PUBLIC, SIGNED_IN, VERIFIED, access_of
from tests.brand_factories import make_brand
from tests.conftest import csrf_from, log_in


@dataclass
class World:
    """Brand X (the brand every `{brand}` path names) and brand Y, with people in them."""

    brand_x: Brand
    owner_x: User
    invitation_x: Invitation
    consumer: User
    marketer_y: User
    admin: User
    campaign_x: Campaign
    stage_x: Stage
    idea_x: Idea


# One sample value per path parameter. A new parameter needs a line here.
SAMPLES: dict[str, Callable[[World], str]] = {
    "brand": lambda w: w.brand_x.slug,
    "user_id": lambda w: str(w.owner_x.id),
    "invitation_id": lambda w: str(w.invitation_x.id),
    "token": lambda w: "not-a-valid-token",
    "slug": lambda w: w.campaign_x.slug,
    "stage_id": lambda w: str(w.stage_x.id),
    "color": lambda w: "b3261e",
    "idea_id": lambda w: str(w.idea_x.id),
    "key": lambda w: "no/such/file.webp",
    "provider": lambda w: "no-such-provider",
    "idea": lambda w: "999999",  # no such idea: the access is checked before the lookup
    "case": lambda w: "999999",  # no such fraud case, likewise
    "round": lambda w: "999999",  # no such round: the brand role is checked first
    "job": lambda w: "999999",  # no such job: 404 for whoever is signed in
}

PERSONAS = ("anonymous", "consumer", "marketer of another brand", "admin")
# Routes after which the persona's saved cookie no longer signs in (its session version moved).
ENDS_EVERY_SESSION = {"/account/sign-out-everywhere"}


def _routes(app: Any) -> Iterator[Route]:
    for route in app.routes:
        if isinstance(route, Mount) and route.path == "/static":
            continue
        assert isinstance(route, Route), f"unexpected route type {route!r}"
        yield route


def _path_for(route: Route, world: World) -> str:
    values = {}
    for param in route.param_convertors:
        if param not in SAMPLES:
            pytest.fail(f"add a sample value for {param} (route {route.path})")
        values[param] = SAMPLES[param](world)
    return route.path_format.format(**values)


def test_every_route_declares_who_may_use_it(app: Any) -> None:
    routes: list[BaseRoute] = list(_routes(app))
    assert len(routes) > 10
    undeclared = [r.path for r in _routes(app) if access_of(r.endpoint) is None]
    assert not undeclared, f"routes without an access (build them with route()): {undeclared}"


def test_every_path_parameter_has_a_sample_value(app: Any) -> None:
    for route in _routes(app):
        for param in route.param_convertors:
            if param not in SAMPLES:
                pytest.fail(f"add a sample value for {param} (route {route.path})")


@pytest.fixture
def world(session: Session, make_user: Any, clock: Any) -> World:
    owner_x = make_user("owner-x@example.com")
    consumer = make_user("consumer@example.com")
    marketer_y = make_user("marketer-y@example.com")
    admin = make_user("admin@example.com", admin=True)
    brand_x = make_brand(session, "brand-x", members=[(owner_x, Role.OWNER)])
    make_brand(session, "brand-y", members=[(marketer_y, Role.MARKETER)])
    invitation = Invitation(
        brand_id=brand_x.id,  # type: ignore[arg-type]
        email="invited@example.com",
        role=Role.JURY.value,
        created_at=clock.now(),
        expires_at=clock.now() + timedelta(days=7),
    )
    session.add(invitation)
    campaign = Campaign(
        brand_id=brand_x.id,
        slug="campaign-x",
        title="Campaign X",  # type: ignore[arg-type]
        status=CampaignStatus.PUBLISHED,
    )
    session.add(campaign)
    session.flush()
    stage = Stage(
        campaign_id=campaign.id,
        position=0,
        kind=StageKind.SUBMISSION,  # type: ignore[arg-type]
        opens_at=clock.now() - timedelta(days=1),
        closes_at=clock.now() + timedelta(days=9),
    )
    session.add(stage)
    idea = Idea(
        campaign_id=campaign.id,
        author_id=owner_x.id,
        title="Idea X",  # type: ignore[arg-type]
        status=IdeaStatus.APPROVED,
        submitted_at=clock.now(),
    )
    session.add(idea)
    session.commit()
    return World(brand_x, owner_x, invitation, consumer, marketer_y, admin, campaign, stage, idea)


def _expected(access: Any, persona: str) -> str:
    """ "login" (303 to /login?next=), "forbidden" (403) or "allowed" (anything else)."""
    if access is PUBLIC:
        return "allowed"
    if persona == "anonymous":
        return "login"
    if access.owner_only:
        return "forbidden"  # the world's objects belong to owner_x, none of the personas
    if access in (SIGNED_IN, VERIFIED):
        return "allowed"  # every signed-in persona here has a verified email
    if access is ADMIN or access.roles:
        return "allowed" if persona == "admin" else "forbidden"
    raise AssertionError(f"the matrix does not know the access {access.name!r}")


def _outcome(response: Any) -> str:
    location = response.headers.get("location", "")
    if response.status_code == 303 and location.startswith("/login?next="):
        return "login"
    if response.status_code == 403:
        return "forbidden"
    return "allowed"


def test_authorization_matrix(app: Any, world: World) -> None:
    people = {
        "consumer": world.consumer,
        "marketer of another brand": world.marketer_y,
        "admin": world.admin,
    }
    # One client per persona, logged in once; its cookies are restored before each request so
    # that a route which changes the session (log out, language) cannot leak into the next. A
    # route that ends the account's sessions in the database is followed by a new log-in.
    clients: dict[str, tuple[TestClient, str, dict[str, str]]] = {}
    opened = []

    def enter(persona: str, client: TestClient) -> None:
        client.cookies.clear()
        if persona in people:
            log_in(client, people[persona])
        token = csrf_from(client, "/")
        clients[persona] = (client, token, dict(client.cookies.items()))

    for persona in PERSONAS:
        client = TestClient(
            app,
            base_url="http://testserver",
            follow_redirects=False,
            raise_server_exceptions=False,
        )
        client.__enter__()
        opened.append(client)
        enter(persona, client)

    failures: list[str] = []
    checked = 0
    try:
        for route in _routes(app):
            access = access_of(route.endpoint)
            assert access is not None
            path = _path_for(route, world)
            for method in sorted(route.methods or ()):
                for persona in PERSONAS:
                    client, token, cookies = clients[persona]
                    client.cookies.clear()
                    for name, value in cookies.items():
                        client.cookies.set(name, value)
                    if method == "POST":
                        response = client.post(path, data={"csrf_token": token})
                    else:
                        response = client.request(method, path)
                    checked += 1
                    if route.path in ENDS_EVERY_SESSION:
                        enter(persona, client)
                    label = f"{method} {route.path} as {persona}: {response.status_code}"
                    if response.status_code >= 500:
                        failures.append(f"{label} (a server error)")
                        continue
                    if response.status_code == 403 and re.search("form has expired", response.text):
                        failures.append(f"{label} (CSRF refused, the access was not tested)")
                        continue
                    expected, got = _expected(access, persona), _outcome(response)
                    if expected != got:
                        failures.append(f"{label}: expected {expected}, got {got} ({access.name})")
    finally:
        for client in opened:
            client.__exit__(None, None, None)
    assert checked > 40
    assert not failures, "\n".join(failures)
