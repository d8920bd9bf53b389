"""The gallery's "most voted" order and counts follow the counted votes, on both databases.

`ideas.vote_count` is kept in step with idea_tallies by triggers (migration 0012), so every
way a tally changes (vote, withdrawal, ranked ballot) moves it; the gallery shows the counts
and the order only as far as the open rounds' visibility allows.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from sqlalchemy import text
from sqlmodel import Session, select
from starlette.testclient import TestClient

from cocreate.accounts.models import User
from cocreate.clock import FrozenClock
from cocreate.ideas.models import Idea
from cocreate.voting.models import IdeaTally, Visibility
from cocreate.voting.service import recount
from tests.conftest import log_in
from tests.voting_support import T0, VotingWorld, htmx_post, make_voting_world, token


@pytest.fixture(autouse=True)
def frozen(clock: FrozenClock) -> FrozenClock:
    clock.at = T0
    return clock


def _world(session: Session, make_user: Callable[..., User], visibility: str) -> VotingWorld:
    owner = make_user("owner@example.com")
    return make_voting_world(
        session, owner, method="approval", max_votes=3, visibility=visibility, ideas=4
    )


def _gallery(client: TestClient, world: VotingWorld, query: str = "?sort=votes") -> str:
    answer = client.get(f"/c/{world.campaign.slug}/ideas{query}")
    assert answer.status_code == 200
    return answer.text


def _titles(html: str) -> list[str]:
    return re.findall(r'<h2><a href="/c/[^"]+/ideas/\d+">([^<]+)</a></h2>', html)


def _vote(client: TestClient, world: VotingWorld, voter: User, picks: list[int]) -> None:
    client.cookies.clear()
    log_in(client, voter)
    csrf = token(client, world.ballot_url)
    for n in picks:
        answer = htmx_post(client, world.vote_url(world.ideas[n]), csrf)
        assert "is counted" in answer.text, answer.text


def _vote_counts(session: Session, world: VotingWorld) -> dict[int, int]:
    session.rollback()
    session.expire_all()
    ids = [idea.id for idea in world.ideas]
    rows = session.exec(select(Idea.id, Idea.vote_count).where(Idea.id.in_(ids)))  # type: ignore[union-attr]
    return {idea_id: count for idea_id, count in rows if idea_id is not None}


def test_most_voted_follows_votes_and_withdrawals(
    client: TestClient, session: Session, make_user: Callable[..., User]
) -> None:
    world = _world(session, make_user, Visibility.LIVE)
    apple, basil, cherry, dill = world.ideas
    voters = [make_user(f"v{n}@example.com") for n in range(3)]
    _vote(client, world, voters[0], [2, 1])
    _vote(client, world, voters[1], [2, 1])
    _vote(client, world, voters[2], [2, 3])
    # Cherry 3, Basil 2, Dill 1, Apple 0.
    assert _titles(_gallery(client, world)) == [t.title for t in (cherry, basil, dill, apple)]
    assert "3 votes" in _gallery(client, world)

    csrf = token(client, world.ballot_url)  # voters[2] takes back Cherry and Dill
    assert htmx_post(client, world.unvote_url(cherry), csrf).status_code == 200
    assert htmx_post(client, world.unvote_url(dill), csrf).status_code == 200
    # Basil 2, Cherry 2 (ties: the later id first), Apple 0, Dill 0.
    assert _titles(_gallery(client, world)) == [t.title for t in (cherry, basil, dill, apple)]

    counts = _vote_counts(session, world)
    assert counts == {apple.id: 0, basil.id: 2, cherry.id: 2, dill.id: 0}
    recounted = recount(session=session, round_id=world.round.id or 0)
    assert counts == {i.id: recounted.get(i.id or 0, (0, 0))[0] for i in world.ideas}


def test_vote_count_follows_every_change_of_a_tally(
    session: Session, make_user: Callable[..., User]
) -> None:
    """Whoever writes idea_tallies (here: plain SQL, as a later fix-up would), the count
    follows: insert, update, a change of idea, delete."""
    world = _world(session, make_user, Visibility.LIVE)
    apple, basil = world.ideas[0], world.ideas[1]
    round_id = world.round.id
    session.add(IdeaTally(round_id=round_id or 0, idea_id=apple.id or 0, votes=5, points=5))
    session.commit()
    assert _vote_counts(session, world)[apple.id] == 5
    session.execute(
        text("UPDATE idea_tallies SET votes = 3 WHERE round_id = :r AND idea_id = :i"),
        {"r": round_id, "i": apple.id},
    )
    session.commit()
    assert _vote_counts(session, world)[apple.id] == 3
    session.execute(
        text("UPDATE idea_tallies SET idea_id = :b WHERE round_id = :r AND idea_id = :i"),
        {"r": round_id, "i": apple.id, "b": basil.id},
    )
    session.commit()
    counts = _vote_counts(session, world)
    assert (counts[apple.id], counts[basil.id]) == (0, 3)
    session.execute(text("DELETE FROM idea_tallies WHERE round_id = :r"), {"r": round_id})
    session.commit()
    assert _vote_counts(session, world)[basil.id] == 0


def test_hidden_counts_do_not_leak_through_the_gallery(
    client: TestClient, session: Session, make_user: Callable[..., User]
) -> None:
    world = _world(session, make_user, Visibility.HIDDEN)
    _vote(client, world, make_user("v@example.com"), [3])
    page = _gallery(client, world)
    assert "1 vote" not in page and "0 votes" not in page
    assert 'value="votes"' not in page  # no "Most voted" choice
    # Asked anyway: the newest first, not the order of the votes.
    assert _titles(page) == [i.title for i in reversed(world.ideas)]


def test_ranks_only_give_the_order_without_the_counts(
    client: TestClient, session: Session, make_user: Callable[..., User]
) -> None:
    world = _world(session, make_user, Visibility.RANKS)
    _vote(client, world, make_user("v@example.com"), [0])
    page = _gallery(client, world)
    assert "1 vote" not in page and "0 votes" not in page
    assert 'value="votes"' in page
    assert _titles(page)[0] == world.ideas[0].title


def test_the_gallery_shows_the_current_rounds_votes_not_every_round_added_up(
    client: TestClient, session: Session, clock: FrozenClock
) -> None:
    from tests.results_support import DAY, make_contest, write_votes
    from tests.results_support import T0 as START

    contest = make_contest(session, slug="final", ideas=3, voters=5)
    first, final = contest.rounds
    a, b, c = contest.ideas
    v = contest.voters
    # Round 1: A far ahead. The final: B ahead, A with one vote, C none.
    write_votes(session, first, [(voter, a, 1) for voter in v] + [(v[0], c, 1)])
    write_votes(session, final, [(v[0], b, 1), (v[1], b, 1), (v[2], a, 1)], at=START + 11 * DAY)
    clock.at = START + 5 * DAY  # round 1 is open: its votes
    page = client.get("/c/final/ideas?sort=votes").text
    assert _titles(page) == ["Idea A", "Idea C", "Idea B"]
    assert "5 votes" in page and "1 vote" in page
    clock.at = START + 12 * DAY  # the final is open: only its votes, in its order
    page = client.get("/c/final/ideas?sort=votes").text
    assert _titles(page) == ["Idea B", "Idea A", "Idea C"]
    assert "2 votes" in page and "6 votes" not in page and "5 votes" not in page
    cards = re.findall(r'<h2><a href="[^"]+">([^<]+)</a></h2>\s*<p class="votes">([^<]+)</p>', page)
    assert dict(cards) == {"Idea B": "2 votes", "Idea A": "1 vote", "Idea C": "0 votes"}
