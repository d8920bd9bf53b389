"""The voting settings of a round in the campaign console."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session, select
from starlette.testclient import TestClient

from cocreate.accounts.models import User
from cocreate.brands.models import Role
from cocreate.clock import FrozenClock
from cocreate.voting.models import Round
from tests.brand_factories import add_member, make_brand
from tests.campaigns_support import visible_text
from tests.conftest import log_in, reload
from tests.voting_support import T0, VotingWorld, make_voting_world, token


@pytest.fixture(autouse=True)
def frozen(clock: FrozenClock) -> FrozenClock:
    clock.at = T0
    return clock


@pytest.fixture
def owner(make_user: Callable[..., User]) -> User:
    return make_user("owner@example.com")


@pytest.fixture
def upcoming(session: Session, owner: User) -> VotingWorld:
    return make_voting_world(session, owner, opens_in=timedelta(days=2))


FORM = {
    "method": "points",
    "max_votes": "4",
    "points_budget": "12",
    "frequency": "daily",
    "min_account_age_days": "3",
    "countries": "fr be",
    "advancement": "top_percent",
    "advancement_value": "25",
    "tie_break": "jury",
    "visibility": "ranks",
}


def post(client: TestClient, world: VotingWorld, data: dict[str, str]) -> Any:
    return client.post(world.round_url, data={"csrf_token": token(client, world.round_url), **data})


def test_the_timeline_links_each_voting_stage_to_its_settings(
    client: TestClient, upcoming: VotingWorld, owner: User
) -> None:
    log_in(client, owner)
    timeline = client.get(f"/brands/acme/campaigns/{upcoming.campaign.slug}/timeline").text
    assert f'href="{upcoming.round_url}"' in timeline
    assert f"/stages/{upcoming.submission.id}/round" not in timeline


def test_a_marketer_sets_the_rules_of_an_upcoming_round(
    client: TestClient, session: Session, upcoming: VotingWorld, make_user: Callable[..., User]
) -> None:
    marketer = make_user("marketer@example.com")
    add_member(session, upcoming.brand, marketer, Role.MARKETER)
    log_in(client, marketer)
    page = client.get(upcoming.round_url)
    assert page.status_code == 200
    assert 'name="method" value="approval" checked' in page.text
    response = post(client, upcoming, FORM)  # no require_verified_email: unticked
    assert response.status_code == 303 and response.headers["location"] == upcoming.round_url
    assert "Voting settings saved." in client.get(upcoming.round_url).text
    reload(session, upcoming.round)
    saved = upcoming.round
    assert (saved.method, saved.max_votes, saved.points_budget) == ("points", 4, 12)
    assert (saved.frequency, saved.require_verified_email, saved.min_account_age_days) == (
        "daily",
        False,
        3,
    )
    assert saved.countries == ["BE", "FR"]
    assert (saved.advancement, saved.advancement_value, saved.tie_break, saved.visibility) == (
        "top_percent",
        25,
        "jury",
        "ranks",
    )
    page = client.get(upcoming.round_url).text
    assert 'value="BE, FR"' in page and 'name="method" value="points" checked' in page


def test_bad_settings_are_explained_and_kept(
    client: TestClient, session: Session, upcoming: VotingWorld, owner: User
) -> None:
    log_in(client, owner)
    response = post(client, upcoming, {**FORM, "points_budget": "0", "countries": "FR, QQ"})
    assert response.status_code == 400
    text = visible_text(response.text)
    assert "Enter a whole number from 1 to 10000." in text
    assert "Unknown country codes: QQ." in text
    assert 'value="FR, QQ"' in response.text  # what was typed stays
    reload(session, upcoming.round)
    assert upcoming.round.method == "approval"


def test_once_open_only_the_visibility_changes(
    client: TestClient, session: Session, upcoming: VotingWorld, owner: User, clock: FrozenClock
) -> None:
    log_in(client, owner)
    clock.advance(days=2)
    page = client.get(upcoming.round_url).text
    assert "This round has opened: its rules stay as voters found them." in page
    assert 'name="method"' not in page and 'name="visibility"' in page
    refused = post(client, upcoming, FORM)
    assert refused.status_code == 400
    assert (
        "Only what voters see of the counts (the visibility) and the fraud checks" in refused.text
    )
    response = post(client, upcoming, {"visibility": "hidden"})
    assert response.status_code == 303
    reload(session, upcoming.round)
    assert (upcoming.round.method, upcoming.round.visibility) == ("approval", "hidden")


def test_a_stage_without_a_round_gets_one_with_defaults(
    client: TestClient, session: Session, upcoming: VotingWorld, owner: User
) -> None:
    session.delete(upcoming.round)
    session.commit()
    log_in(client, owner)
    page = client.get(upcoming.round_url)
    assert page.status_code == 200 and 'name="max_votes" type="number" value="5"' in page.text
    session.rollback()
    assert session.exec(select(Round)).one().stage_id == upcoming.stage.id


def test_other_stages_and_other_brands_are_not_found(
    client: TestClient, session: Session, upcoming: VotingWorld, make_user: Callable[..., User]
) -> None:
    other = make_user("other@example.com")
    make_brand(session, "globex", members=[(other, Role.OWNER)])
    log_in(client, upcoming.owner)
    submission = upcoming.round_url.replace(str(upcoming.stage.id), str(upcoming.submission.id))
    assert client.get(submission).status_code == 404
    client.cookies.clear()
    log_in(client, other)
    assert client.get(upcoming.round_url).status_code == 403
    assert client.get(upcoming.round_url.replace("/acme/", "/globex/")).status_code == 404


def test_moderators_and_jury_do_not_set_rounds(
    client: TestClient, session: Session, upcoming: VotingWorld, make_user: Callable[..., User]
) -> None:
    moderator = make_user("mod@example.com")
    add_member(session, upcoming.brand, moderator, Role.MODERATOR)
    log_in(client, moderator)
    assert client.get(upcoming.round_url).status_code == 403


def test_the_settings_page_shows_in_french(
    client: TestClient, owner: User, upcoming: VotingWorld
) -> None:
    """Its advancement choices hold a percentage: a translation with a lone "%" made it fail."""
    log_in(client, owner)
    page = client.get(upcoming.round_url, headers={"Accept-Language": "fr"})
    assert page.status_code == 200
    assert "Les N pour cent meilleures idées" in page.text
