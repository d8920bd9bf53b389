"""The ballot page and the vote endpoints, with and without htmx, on both databases."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, select
from starlette.testclient import TestClient

from cocreate.accounts.models import User
from cocreate.clock import FrozenClock
from cocreate.ideas.models import Idea, IdeaStatus
from cocreate.voting.models import DeclaredCountry, IdeaTally, Vote, VoteStatus
from cocreate.voting.signals import DEVICE_COOKIE
from tests.campaigns_support import visible_text
from tests.conftest import log_in
from tests.voting_support import DAY, T0, VotingWorld, htmx_post, make_voting_world, token


@pytest.fixture(autouse=True)
def frozen(clock: FrozenClock) -> FrozenClock:
    clock.at = T0
    return clock


@pytest.fixture
def owner(make_user: Callable[..., User]) -> User:
    return make_user("owner@example.com")


@pytest.fixture
def voter(make_user: Callable[..., User]) -> User:
    return make_user("voter@example.com", name="Vera")


def world_with(session: Session, owner: User, **settings: Any) -> VotingWorld:
    return make_voting_world(session, owner, **settings)


@pytest.fixture
def approval(session: Session, owner: User) -> VotingWorld:
    return world_with(session, owner, method="approval", max_votes=2)


def counter(html: str) -> str:
    found = re.search(r'<p id="ballot-counter"[^>]*>([^<]*)</p>', html)
    assert found, "no counter"
    return found.group(1).strip()


def live_votes(session: Session, voter: User) -> list[tuple[int, int]]:
    session.rollback()  # see what the server committed
    rows = session.exec(
        select(Vote.idea_id, Vote.weight).where(
            Vote.voter_id == voter.id, col(Vote.withdrawn_at).is_(None)
        )
    ).all()
    return sorted((i, w) for i, w in rows)


# --- The page --------------------------------------------------------------------------------


def test_anyone_sees_the_ballot_and_is_asked_to_log_in(
    client: TestClient, approval: VotingWorld
) -> None:
    page = client.get(approval.ballot_url)
    assert page.status_code == 200
    text = visible_text(page.text)
    assert "Public vote" in text and "Vote for up to 2 ideas you like." in text
    assert all(idea.title in text for idea in approval.ideas)
    assert "Log in to vote" in text and 'href="/login?next=/c/flavours/vote"' in page.text
    assert "/vote/" not in page.text  # no vote button for a visitor


def test_the_campaign_page_links_to_the_ballot(client: TestClient, approval: VotingWorld) -> None:
    page = client.get(f"/c/{approval.campaign.slug}")
    assert 'href="/c/flavours/vote"' in page.text


def test_no_open_round_gives_a_clear_page(
    client: TestClient, session: Session, owner: User, clock: FrozenClock
) -> None:
    world = world_with(session, owner, opens_in=3 * DAY)
    page = client.get(world.ballot_url)
    assert page.status_code == 200
    assert "No vote is open right now" in page.text
    assert "Public vote opens on" in visible_text(page.text)
    clock.advance(days=20)
    assert "Voting in this campaign has ended" in client.get(world.ballot_url).text


def test_a_draft_campaign_has_no_ballot(
    client: TestClient, session: Session, approval: VotingWorld
) -> None:
    approval.campaign.status = "draft"
    session.add(approval.campaign)
    session.commit()
    assert client.get(approval.ballot_url).status_code == 404


# --- Voting without JavaScript: a form post and a redirect ---------------------------------


def test_vote_and_unvote_with_plain_forms(
    client: TestClient, session: Session, approval: VotingWorld, voter: User
) -> None:
    log_in(client, voter)
    apple, basil, cherry = approval.ideas[:3]
    page = client.get(approval.ballot_url)
    assert counter(page.text) == "Votes left: 2 of 2"
    csrf = token(client, approval.ballot_url)

    response = client.post(approval.vote_url(apple), data={"csrf_token": csrf})
    assert response.status_code == 303
    assert response.headers["location"] == f"/c/flavours/vote#idea-{apple.id}"
    assert "HX-Request" in response.headers["vary"]
    page = client.get(approval.ballot_url)
    assert "Your vote for “Idea Apple” is counted." in page.text
    assert counter(page.text) == "Votes left: 1 of 2"
    assert f'action="/c/flavours/unvote/{apple.id}"' in page.text

    client.post(approval.vote_url(basil), data={"csrf_token": csrf})
    client.post(approval.vote_url(cherry), data={"csrf_token": csrf})
    page = client.get(approval.ballot_url)
    assert "You have no votes left. Take back a vote to vote for another idea." in page.text
    assert counter(page.text) == "Votes left: 0 of 2"

    client.post(approval.unvote_url(apple), data={"csrf_token": csrf})
    page = client.get(approval.ballot_url)
    assert "Your vote for “Idea Apple” is taken back." in page.text
    assert counter(page.text) == "Votes left: 1 of 2"
    assert live_votes(session, voter) == [(basil.id, 1)]


# --- Voting with htmx: a fragment with the counter out of band -------------------------------


def test_vote_with_htmx_swaps_the_button_and_the_counter(
    client: TestClient, session: Session, approval: VotingWorld, voter: User
) -> None:
    log_in(client, voter)
    apple = approval.ideas[0]
    page = client.get(approval.ballot_url).text
    # The button posts with htmx and replaces its idea; plain forms work without it.
    assert (
        f'hx-post="/c/flavours/vote/{apple.id}" hx-target="#vote-{apple.id}" '
        'hx-swap="outerHTML"' in page
    )
    csrf = token(client, approval.ballot_url)

    response = htmx_post(client, approval.vote_url(apple), csrf)
    assert response.status_code == 200
    assert "HX-Request" in response.headers["vary"]
    fragment = response.text
    assert fragment.lstrip().startswith(f'<div class="entrant-vote voted" id="vote-{apple.id}">')
    assert "<html" not in fragment and "<nav" not in fragment
    assert f'action="/c/flavours/unvote/{apple.id}"' in fragment
    assert "Your vote for “Idea Apple” is counted." in fragment
    assert '<p id="ballot-counter" class="counter" hx-swap-oob="true">Votes left: 1 of 2</p>' in (
        fragment
    )

    response = htmx_post(client, approval.unvote_url(apple), csrf)
    assert f'action="/c/flavours/vote/{apple.id}"' in response.text
    assert "Your vote for “Idea Apple” is taken back." in response.text
    assert counter(response.text) == "Votes left: 2 of 2"
    assert live_votes(session, voter) == []


def test_a_double_post_stores_one_vote(
    client: TestClient, session: Session, approval: VotingWorld, voter: User
) -> None:
    log_in(client, voter)
    apple = approval.ideas[0]
    csrf = token(client, approval.ballot_url)
    first = htmx_post(client, approval.vote_url(apple), csrf)
    second = htmx_post(client, approval.vote_url(apple), csrf)
    assert "is counted" in first.text
    assert "You have already voted for “Idea Apple”." in second.text
    assert counter(second.text) == "Votes left: 1 of 2"
    assert live_votes(session, voter) == [(apple.id, 1)]
    assert session.exec(select(Vote)).all().__len__() == 1
    tally = session.get(IdeaTally, (approval.round.id, apple.id))
    assert tally is not None and tally.votes == 1


def test_no_votes_left_is_explained_in_the_fragment(
    client: TestClient, approval: VotingWorld, voter: User
) -> None:
    log_in(client, voter)
    apple, basil, cherry = approval.ideas[:3]
    csrf = token(client, approval.ballot_url)
    htmx_post(client, approval.vote_url(apple), csrf)
    htmx_post(client, approval.vote_url(basil), csrf)
    refused = htmx_post(client, approval.vote_url(cherry), csrf)
    assert refused.status_code == 200  # htmx swaps 2xx answers only
    assert 'class="vote-message refused"' in refused.text
    assert "You have no votes left." in refused.text
    assert f'action="/c/flavours/vote/{cherry.id}"' in refused.text  # still not voted
    assert counter(refused.text) == "Votes left: 0 of 2"


def test_csrf_is_required(
    client: TestClient, session: Session, approval: VotingWorld, voter: User
) -> None:
    log_in(client, voter)
    apple = approval.ideas[0]
    client.get(approval.ballot_url)
    assert client.post(approval.vote_url(apple)).status_code == 403
    assert client.post(approval.vote_url(apple), data={"csrf_token": "forged"}).status_code == 403
    wrong = client.post(
        approval.vote_url(apple), headers={"HX-Request": "true", "X-CSRFToken": "forged"}
    )
    assert wrong.status_code == 403 and "This form has expired" in wrong.text
    assert live_votes(session, voter) == []


def test_voting_needs_an_account(client: TestClient, approval: VotingWorld) -> None:
    csrf = token(client, approval.ballot_url)
    response = client.post(approval.vote_url(approval.ideas[0]), data={"csrf_token": csrf})
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_an_idea_outside_the_round_is_refused(
    client: TestClient, session: Session, approval: VotingWorld, voter: User
) -> None:
    pending = Idea(
        campaign_id=approval.campaign.id,  # type: ignore[arg-type]
        author_id=voter.id,  # type: ignore[arg-type]
        title="Pending",
        status=IdeaStatus.PENDING,
    )
    session.add(pending)
    session.commit()
    log_in(client, voter)
    csrf = token(client, approval.ballot_url)
    response = client.post(approval.vote_url(pending), data={"csrf_token": csrf})
    assert response.status_code == 303
    assert "This idea is not part of this voting round." in client.get(approval.ballot_url).text
    missing = htmx_post(client, "/c/flavours/vote/999999", csrf)
    assert missing.headers["hx-redirect"] == "/c/flavours/vote"
    assert live_votes(session, voter) == []


# --- Round boundaries and daily ballots -------------------------------------------------------


def test_votes_before_the_round_opens_and_after_it_closes_are_refused(
    client: TestClient, session: Session, owner: User, voter: User, clock: FrozenClock
) -> None:
    world = world_with(session, owner, opens_in=timedelta(hours=1))
    apple = world.ideas[0]
    log_in(client, voter)
    csrf = token(client, "/")
    early = htmx_post(client, world.vote_url(apple), csrf)
    assert early.headers["hx-redirect"] == "/c/flavours/vote"
    page = client.get(world.ballot_url).text
    assert "This voting round is not open, so votes are not accepted." in page
    assert "No vote is open right now" in page

    clock.advance(hours=1)  # opens now
    assert "is counted" in htmx_post(client, world.vote_url(apple), csrf).text
    clock.advance(days=10)  # closes now
    late = client.post(world.unvote_url(apple), data={"csrf_token": csrf})
    assert late.status_code == 303 and late.headers["location"] == "/c/flavours/vote"
    assert "votes are not accepted" in client.get(world.ballot_url).text
    assert live_votes(session, voter) == [(apple.id, 1)]  # the closed round kept it


def test_a_daily_round_gives_new_votes_at_midnight_in_the_campaign_time_zone(
    client: TestClient, session: Session, owner: User, voter: User, clock: FrozenClock
) -> None:
    world = world_with(session, owner, method="approval", max_votes=1, frequency="daily")
    apple, basil = world.ideas[:2]
    clock.at = T0.replace(hour=21, minute=30)  # 23:30 in Paris
    log_in(client, voter)
    csrf = token(client, world.ballot_url)
    voted = htmx_post(client, world.vote_url(apple), csrf)
    assert counter(voted.text) == "Votes left today: 0 of 1"
    refused = htmx_post(client, world.vote_url(basil), csrf)
    assert "You have no votes left today. Come back tomorrow for new votes." in refused.text
    page = client.get(world.ballot_url).text
    assert "Your next votes: Jun 4, 2026, 12:00 AM CEST." in visible_text(page)

    clock.advance(minutes=45)  # 00:15 in Paris, still June 3 in UTC
    page = client.get(world.ballot_url).text
    assert counter(page) == "Votes left today: 1 of 1"
    assert f'action="/c/flavours/vote/{apple.id}"' in page  # yesterday's vote is yesterday's
    assert "is counted" in htmx_post(client, world.vote_url(apple), csrf).text
    session.rollback()
    tally = session.get(IdeaTally, (world.round.id, apple.id))
    assert tally is not None and tally.votes == 2


# --- Eligibility --------------------------------------------------------------------------------


def test_an_unverified_voter_is_told_to_confirm_their_email(
    client: TestClient, session: Session, approval: VotingWorld, make_user: Callable[..., User]
) -> None:
    unverified = make_user("new@example.com", verified=False)
    log_in(client, unverified)
    page = client.get(approval.ballot_url).text
    assert (
        "This round needs a confirmed email address. "
        "Open the link we sent to new@example.com" in page
    )
    assert 'action="/verify"' in page and "/vote/" not in page.split("eligibility", 1)[1]
    csrf = token(client, approval.ballot_url)
    refused = htmx_post(client, approval.vote_url(approval.ideas[0]), csrf)
    assert "Confirm your email address to vote" in refused.text
    assert live_votes(session, unverified) == []


def test_a_round_open_to_unverified_accounts(
    client: TestClient, session: Session, owner: User, make_user: Callable[..., User]
) -> None:
    world = world_with(session, owner, require_verified_email=False)
    unverified = make_user("new@example.com", verified=False)
    log_in(client, unverified)
    csrf = token(client, world.ballot_url)
    assert "is counted" in htmx_post(client, world.vote_url(world.ideas[0]), csrf).text


def test_a_new_account_is_told_when_it_can_vote(
    client: TestClient, session: Session, owner: User, voter: User, clock: FrozenClock
) -> None:
    world = world_with(session, owner, min_account_age_days=7)
    log_in(client, voter)  # created at T0
    page = visible_text(client.get(world.ballot_url).text)
    assert "Accounts must be at least 7 days old to vote in this round." in page
    assert "You can vote from Jun 10, 2026, 12:00 PM CEST." in page
    csrf = token(client, world.ballot_url)
    refused = htmx_post(client, world.vote_url(world.ideas[0]), csrf)
    assert "Your account is too new to vote in this round." in refused.text
    clock.advance(days=7)
    assert "is counted" in htmx_post(client, world.vote_url(world.ideas[0]), csrf).text


def test_a_round_for_some_countries_asks_once_where_the_voter_lives(
    client: TestClient,
    session: Session,
    owner: User,
    voter: User,
    make_user: Callable[..., User],
) -> None:
    world = world_with(session, owner, countries=["BE", "FR"])
    apple = world.ideas[0]
    log_in(client, voter)
    page = client.get(world.ballot_url).text
    assert "This round is open to people who live in: Belgium, France." in page
    csrf = token(client, world.ballot_url)
    asked = htmx_post(client, world.vote_url(apple), csrf)
    assert "Tell us which country you live in" in asked.text
    bad = client.post("/c/flavours/country", data={"csrf_token": csrf, "country": "XX"})
    assert bad.status_code == 400 and "Choose the country you live in from the list." in bad.text

    client.post("/c/flavours/country", data={"csrf_token": csrf, "country": "FR"})
    assert "Thank you. You live in France." in client.get(world.ballot_url).text
    assert "is counted" in htmx_post(client, world.vote_url(apple), csrf).text
    again = client.post("/c/flavours/country", data={"csrf_token": csrf, "country": "DE"})
    assert again.status_code == 303
    assert "You already told us you live in France." in client.get(world.ballot_url).text

    elsewhere = make_user("elsewhere@example.com")
    session.add(DeclaredCountry(campaign_id=world.campaign.id, voter_id=elsewhere.id, country="DE"))  # type: ignore[arg-type]
    session.commit()
    client.cookies.clear()
    log_in(client, elsewhere)
    page = client.get(world.ballot_url).text
    assert "You told us you live in Germany, so you cannot vote in it." in page
    csrf = token(client, world.ballot_url)
    refused = htmx_post(client, world.vote_url(apple), csrf)
    assert "This round is open to voters in other countries only." in refused.text


# --- Visibility -------------------------------------------------------------------------------


def _vote_for(client: TestClient, world: VotingWorld, user: User, *ideas: Idea) -> None:
    client.cookies.clear()
    log_in(client, user)
    csrf = token(client, world.ballot_url)
    for idea in ideas:
        assert htmx_post(client, world.vote_url(idea), csrf).status_code == 200


@pytest.mark.parametrize("visibility", ["hidden", "ranks", "live"])
def test_what_the_ballot_shows_of_the_counts(
    client: TestClient,
    session: Session,
    owner: User,
    make_user: Callable[..., User],
    visibility: str,
) -> None:
    world = world_with(session, owner, max_votes=3, visibility=visibility)
    apple, basil, cherry, dill = world.ideas
    _vote_for(client, world, make_user(), cherry, basil)
    _vote_for(client, world, make_user(), cherry)
    page = client.get(world.ballot_url).text
    order = re.findall(r"<h3 class=\"entrant-title\"><a href=\"[^\"]+\">Idea (\w+)</a></h3>", page)
    if visibility == "hidden":
        assert "entrant-count" not in page and "No. 1" not in page
        assert sorted(order) == ["Apple", "Basil", "Cherry", "Dill"]
    if visibility == "ranks":
        assert order == ["Cherry", "Basil", "Apple", "Dill"]  # ties: earlier submission first
        assert "No. 1" in page and "No. 3" in page and "entrant-count" not in page
    if visibility == "live":
        assert order == ["Cherry", "Basil", "Apple", "Dill"]
        assert '<p class="entrant-count">2 votes</p>' in page
        assert '<p class="entrant-count">0 votes</p>' in page
        fragment = htmx_post(client, world.vote_url(apple), token(client, world.ballot_url)).text
        assert '<p class="entrant-count">1 vote</p>' in fragment


def test_hidden_counts_list_the_ideas_in_each_voters_own_order(
    client: TestClient, session: Session, owner: User, make_user: Callable[..., User]
) -> None:
    world = world_with(session, owner, ideas=6, visibility="hidden")
    orders = set()
    for _n in range(4):
        client.cookies.clear()
        log_in(client, make_user())
        first = re.findall(r'id="idea-(\d+)"', client.get(world.ballot_url).text)
        assert re.findall(r'id="idea-(\d+)"', client.get(world.ballot_url).text) == first
        orders.add(tuple(first))
    assert len(orders) > 1


# --- Points and single choice -----------------------------------------------------------------


def test_points_are_spent_from_a_budget(
    client: TestClient, session: Session, owner: User, voter: User
) -> None:
    world = world_with(session, owner, method="points", max_votes=3, points_budget=10)
    apple, basil = world.ideas[:2]
    log_in(client, voter)
    page = client.get(world.ballot_url).text
    assert counter(page) == "Points left: 10 of 10"
    assert f'<input id="points-{apple.id}" name="points" type="number"' in page
    csrf = token(client, world.ballot_url)
    given = htmx_post(client, world.vote_url(apple), csrf, {"points": "7"})
    assert "Your points for “Idea Apple” are counted." in given.text
    assert "You gave 7 points" in given.text
    assert counter(given.text) == "Points left: 3 of 10"
    too_many = htmx_post(client, world.vote_url(basil), csrf, {"points": "4"})
    assert "You have only 3 points left" in too_many.text
    nonsense = htmx_post(client, world.vote_url(basil), csrf, {"points": "-2"})
    assert "Enter a number of points from 1 to 10." in nonsense.text
    assert counter(nonsense.text) == "Points left: 3 of 10"
    repeated = htmx_post(client, world.vote_url(apple), csrf, {"points": "1"})
    assert "You have already voted for “Idea Apple”." in repeated.text
    assert counter(repeated.text) == "Points left: 3 of 10"
    assert live_votes(session, voter) == [(apple.id, 7)]
    back = htmx_post(client, world.unvote_url(apple), csrf)
    assert counter(back.text) == "Points left: 10 of 10"


def test_a_single_choice_round_takes_one_vote(
    client: TestClient, session: Session, owner: User, voter: User
) -> None:
    world = world_with(session, owner, method="single")
    apple, basil = world.ideas[:2]
    log_in(client, voter)
    csrf = token(client, world.ballot_url)
    assert counter(client.get(world.ballot_url).text) == "You can vote for one idea."
    voted = htmx_post(client, world.vote_url(apple), csrf)
    assert counter(voted.text) == "You have used your vote."
    refused = htmx_post(client, world.vote_url(basil), csrf)
    assert "You have used your vote. Take it back to vote for another idea." in refused.text
    htmx_post(client, world.unvote_url(apple), csrf)
    assert "is counted" in htmx_post(client, world.vote_url(basil), csrf).text
    assert live_votes(session, voter) == [(basil.id, 1)]


# --- Ranked ballots -----------------------------------------------------------------------------


@pytest.fixture
def ranked(session: Session, owner: User) -> VotingWorld:
    return world_with(session, owner, method="ranked", max_votes=3, visibility="hidden")


def rank_form(csrf: str, *ideas: Idea | None) -> dict[str, str]:
    data = {"csrf_token": csrf}
    for n, idea in enumerate(ideas, start=1):
        data[f"rank-{n}"] = str(idea.id) if idea else ""
    return data


def test_a_ranked_ballot_is_saved_and_replaced_in_one_go(
    client: TestClient, session: Session, ranked: VotingWorld, voter: User
) -> None:
    apple, basil, cherry, dill = ranked.ideas
    log_in(client, voter)
    page = client.get(ranked.ballot_url).text
    assert "Put up to 3 ideas in your order of preference." in page
    assert page.count('<select id="f-rank-') == 3
    csrf = token(client, ranked.ballot_url)

    saved = client.post("/c/flavours/ranking", data=rank_form(csrf, cherry, apple))
    assert saved.status_code == 303
    page = client.get(ranked.ballot_url).text
    assert "Your ranking is saved." in page
    assert live_votes(session, voter) == sorted([(cherry.id, 1), (apple.id, 2)])
    # The saved ranking is shown back in its selects.
    assert re.search(rf'name="rank-1">.*?<option value="{cherry.id}" selected>', page, re.S)

    client.post("/c/flavours/ranking", data=rank_form(csrf, dill, None, cherry))
    assert live_votes(session, voter) == sorted([(dill.id, 1), (cherry.id, 2)])  # gap closed
    session.rollback()
    votes = session.exec(select(Vote).where(Vote.voter_id == voter.id)).all()
    assert len(votes) == 4 and sum(v.withdrawn_at is not None for v in votes) == 2
    tally = {t.idea_id: (t.votes, t.points) for t in session.exec(select(IdeaTally)).all()}
    assert tally[apple.id] == (0, 0) and tally[cherry.id] == (1, 2) and tally[dill.id] == (1, 1)

    again = client.post("/c/flavours/ranking", data=rank_form(csrf, dill, cherry))
    assert again.status_code == 303
    assert "It has not changed." in client.get(ranked.ballot_url).text
    assert len(session.exec(select(Vote)).all()) == 4

    client.post("/c/flavours/ranking", data=rank_form(csrf, None, None, None))
    assert "Your ranking is cleared." in client.get(ranked.ballot_url).text
    assert live_votes(session, voter) == []


def test_a_ranked_ballot_refuses_an_idea_twice(
    client: TestClient, session: Session, ranked: VotingWorld, voter: User
) -> None:
    apple, basil = ranked.ideas[:2]
    log_in(client, voter)
    csrf = token(client, ranked.ballot_url)
    refused = client.post("/c/flavours/ranking", data=rank_form(csrf, apple, basil, apple))
    assert refused.status_code == 400
    assert "An idea appears at more than one position: choose each idea once." in refused.text
    assert "This idea is already at position 1." in refused.text
    assert 'id="f-rank-3" name="rank-3" aria-invalid="true"' in refused.text
    assert live_votes(session, voter) == []


def test_a_ranked_ballot_refuses_ideas_outside_the_round(
    client: TestClient, session: Session, ranked: VotingWorld, voter: User
) -> None:
    log_in(client, voter)
    csrf = token(client, ranked.ballot_url)
    data = {"csrf_token": csrf, "rank-1": "999999"}
    assert client.post("/c/flavours/ranking", data=data).status_code == 303
    assert "This idea is not part of this voting round." in client.get(ranked.ballot_url).text
    data = {"csrf_token": csrf, "rank-1": "not-a-number"}
    assert client.post("/c/flavours/ranking", data=data).status_code == 400
    assert live_votes(session, voter) == []


def test_single_votes_are_refused_in_a_ranked_round(
    client: TestClient, ranked: VotingWorld, voter: User
) -> None:
    log_in(client, voter)
    csrf = token(client, ranked.ballot_url)
    response = client.post(ranked.vote_url(ranked.ideas[0]), data={"csrf_token": csrf})
    assert response.status_code == 303
    assert "This round is a ranked vote" in client.get(ranked.ballot_url).text


# --- Signals -----------------------------------------------------------------------------------


def test_a_vote_records_hashed_signals_and_a_device_cookie(
    client: TestClient, session: Session, approval: VotingWorld, voter: User
) -> None:
    log_in(client, voter)
    page = client.get(approval.ballot_url)
    assert DEVICE_COOKIE in page.headers.get("set-cookie", "")
    device = client.cookies.get(DEVICE_COOKIE)
    assert device
    csrf = token(client, approval.ballot_url)
    client.post(
        approval.vote_url(approval.ideas[0]),
        data={"csrf_token": csrf},
        headers={"User-Agent": "Mozilla/5.0 (X11) " + "x" * 500},
    )
    session.rollback()
    vote = session.exec(select(Vote)).one()
    assert vote.status == VoteStatus.COUNTED
    assert vote.device_id == device.split(".")[0]
    assert vote.ip_hash and len(vote.ip_hash) == 64 and "testclient" not in vote.ip_hash
    assert vote.user_agent is not None and len(vote.user_agent) == 300
    assert vote.user_agent.startswith("Mozilla/5.0 (X11)")

    client.cookies.delete(DEVICE_COOKIE)
    client.cookies.set(DEVICE_COOKIE, "made-up-device")  # not signed: replaced
    response = client.post(approval.vote_url(approval.ideas[1]), data={"csrf_token": csrf})
    assert DEVICE_COOKIE in response.headers.get("set-cookie", "")
    session.rollback()
    devices = {v.device_id for v in session.exec(select(Vote)).all()}
    assert "made-up-device" not in devices and len(devices) == 2


def test_the_ballot_speaks_french(client: TestClient, approval: VotingWorld, voter: User) -> None:
    log_in(client, voter)
    csrf = token(client, approval.ballot_url)
    client.post("/language", data={"csrf_token": csrf, "locale": "fr", "next": "/"})
    page = client.get(approval.ballot_url).text
    assert "Votez pour 2 idées au plus" in page
    assert counter(page) == "Votes restants : 2 sur 2"
    fragment = htmx_post(client, approval.vote_url(approval.ideas[0]), csrf).text
    assert "Votre vote pour « Idea Apple » est compté." in fragment
