"""Layer 1 of the fraud checks through HTTP: counted, challenged, held, refused; replayed
challenges; the round's policy in the console; shared counts on Redis; no raw IP anywhere."""

from __future__ import annotations

import dataclasses
import html
import json
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from sqlalchemy import text
from sqlmodel import Session, col, select
from starlette.testclient import TestClient

from cocreate.accounts.models import User
from cocreate.app import create_app
from cocreate.clock import FrozenClock
from cocreate.fraud import challenge
from cocreate.ideas.models import Idea
from cocreate.security.ratelimit import RateLimiter
from cocreate.settings import Settings
from cocreate.voting.models import IdeaTally, Round, Vote, VoteStatus
from tests.conftest import log_in, post_form
from tests.voting_support import T0, VotingWorld, make_voting_world, token

REDIS_URL = "redis://127.0.0.1:6379/0"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0"
SCRIPT = "python-requests/2.32"  # 0.5: with a new account (0.2), above the default 50
IP = "203.0.113.77"


@pytest.fixture(autouse=True)
def frozen(clock: FrozenClock) -> FrozenClock:
    clock.at = T0
    return clock


@pytest.fixture
def owner(make_user: Callable[..., User]) -> User:
    return make_user("owner@example.com")


@pytest.fixture
def world(session: Session, owner: User) -> VotingWorld:
    return make_voting_world(session, owner, method="approval", max_votes=3)


def at(app: Any, ip: str = IP) -> TestClient:
    return TestClient(app, base_url="http://testserver", follow_redirects=False, client=(ip, 5000))


@pytest.fixture
def web(app: Any) -> Iterator[TestClient]:
    with at(app) as c:
        yield c


def vote(
    client: TestClient,
    world: VotingWorld,
    idea: Idea,
    *,
    agent: str = BROWSER,
    htmx: bool = True,
    altcha: str | None = None,
) -> Any:
    csrf = token(client, world.ballot_url)
    data = {"altcha": altcha} if altcha is not None else {}
    headers = {"User-Agent": agent, "X-CSRFToken": csrf}
    if htmx:
        headers |= {"HX-Request": "true", "HX-Current-URL": "http://testserver/"}
    else:
        data["csrf_token"] = csrf
    return client.post(world.vote_url(idea), data=data, headers=headers)


def unvote(client: TestClient, world: VotingWorld, idea: Idea) -> None:
    csrf = token(client, world.ballot_url)
    response = client.post(
        world.unvote_url(idea), headers={"HX-Request": "true", "X-CSRFToken": csrf}
    )
    assert response.status_code == 200


def votes_of(session: Session, user: User) -> list[Vote]:
    session.rollback()  # see what the server committed
    return list(
        session.exec(select(Vote).where(Vote.voter_id == user.id).order_by(col(Vote.id))).all()
    )


def counted(session: Session, world: VotingWorld, idea: Idea) -> int:
    session.rollback()
    tally = session.get(IdeaTally, (world.round.id, idea.id))
    return tally.votes if tally else 0


def challenge_in(page: str) -> dict[str, Any]:
    found = re.search(r'data-pow-challenge="([^"]+)"', page)
    assert found, "no challenge on the page"
    made: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    return made


def solve(page: str) -> str:
    solution = challenge.solve(challenge_in(page))
    assert solution is not None
    return challenge.encode(solution)


def set_policy(session: Session, world: VotingWorld, **policy: Any) -> None:
    round_ = session.get(Round, world.round.id)
    assert round_ is not None
    round_.fraud_policy = policy
    session.add(round_)
    session.commit()


def test_an_ordinary_vote_counts_with_its_score_and_signals_stored(
    session: Session, web: TestClient, world: VotingWorld, make_user: Callable[..., User]
) -> None:
    voter = make_user("vera@example.org")
    log_in(web, voter)
    response = vote(web, world, world.ideas[0])
    assert response.status_code == 200 and "is counted." in response.text
    [stored] = votes_of(session, voter)
    assert stored.status == VoteStatus.COUNTED
    assert stored.risk_signals == {"new_account": 0.2}  # made today by the fixture
    assert stored.risk_score == pytest.approx(0.2)
    assert stored.status_reason == "counted: risk 20"
    assert counted(session, world, world.ideas[0]) == 1


def test_a_risky_vote_is_challenged_and_counts_once_solved(
    session: Session, web: TestClient, world: VotingWorld, make_user: Callable[..., User]
) -> None:
    voter = make_user("sam@example.org")
    log_in(web, voter)
    idea = world.ideas[1]
    asked = vote(web, world, idea, agent=SCRIPT)
    assert asked.status_code == 200
    assert f'id="vote-{idea.id}"' in asked.text and 'name="altcha"' in asked.text
    assert "quick check" in asked.text and "<noscript>" in asked.text
    assert f'hx-post="/c/{world.campaign.slug}/vote/{idea.id}"' in asked.text
    assert votes_of(session, voter) == []  # nothing recorded while the check is pending
    response = vote(web, world, idea, agent=SCRIPT, altcha=solve(asked.text))
    assert response.status_code == 200 and "is counted." in response.text
    [stored] = votes_of(session, voter)
    assert stored.status == VoteStatus.COUNTED
    assert stored.status_reason == "challenge solved: risk 70 above 50"
    assert set(stored.risk_signals) == {"new_account", "scripted_user_agent"}
    assert counted(session, world, idea) == 1


def test_a_replayed_solution_is_refused(
    session: Session, web: TestClient, world: VotingWorld, make_user: Callable[..., User]
) -> None:
    voter = make_user("rex@example.org")
    log_in(web, voter)
    idea = world.ideas[0]
    payload = solve(vote(web, world, idea, agent=SCRIPT).text)
    assert "is counted." in vote(web, world, idea, agent=SCRIPT, altcha=payload).text
    unvote(web, world, idea)
    again = vote(web, world, idea, agent=SCRIPT, altcha=payload)
    assert "already used" in again.text and 'name="altcha"' in again.text  # a new challenge
    assert challenge_in(again.text)["signature"] not in payload
    live = [v for v in votes_of(session, voter) if v.withdrawn_at is None]
    assert live == [] and counted(session, world, idea) == 0


def test_a_solution_for_another_idea_does_not_count(
    session: Session, web: TestClient, world: VotingWorld, make_user: Callable[..., User]
) -> None:
    voter = make_user("ida@example.org")
    log_in(web, voter)
    payload = solve(vote(web, world, world.ideas[0], agent=SCRIPT).text)
    other = vote(web, world, world.ideas[1], agent=SCRIPT, altcha=payload)
    assert "not valid" in other.text and 'name="altcha"' in other.text
    assert votes_of(session, voter) == []


def test_without_htmx_the_challenge_is_a_page_that_explains_it_needs_javascript(
    session: Session, web: TestClient, world: VotingWorld, make_user: Callable[..., User]
) -> None:
    voter = make_user("noscript@example.org")
    log_in(web, voter)
    idea = world.ideas[2]
    page = vote(web, world, idea, agent=SCRIPT, htmx=False)
    assert page.status_code == 200 and "<h1>A quick check</h1>" in page.text
    assert "needs a quick check that runs in your browser with JavaScript" in page.text
    assert "hx-post" not in page.text and 'name="csrf_token"' in page.text
    assert '<script src="/static/app.js"' in page.text
    moved = vote(web, world, idea, agent=SCRIPT, htmx=False, altcha=solve(page.text))
    assert moved.status_code == 303 and moved.headers["location"].endswith(f"#idea-{idea.id}")
    assert [v.status for v in votes_of(session, voter)] == [VoteStatus.COUNTED]


def test_a_hold_policy_keeps_the_vote_out_of_the_count(
    session: Session, web: TestClient, world: VotingWorld, make_user: Callable[..., User]
) -> None:
    set_policy(session, world, challenge_above=50, refuse_above=90, middle="hold")
    voter = make_user("hal@example.org")
    log_in(web, voter)
    idea = world.ideas[0]
    response = vote(web, world, idea, agent=SCRIPT)
    assert response.status_code == 200 and 'name="altcha"' not in response.text
    assert "checked before it counts" in response.text
    [stored] = votes_of(session, voter)
    assert stored.status == VoteStatus.HELD
    assert stored.status_reason == "held: risk 70 above 50"
    assert stored.risk_score == pytest.approx(0.7)
    assert counted(session, world, idea) == 0


def test_a_vote_above_the_refusal_threshold_is_refused_and_logged_not_stored(
    session: Session,
    web: TestClient,
    world: VotingWorld,
    make_user: Callable[..., User],
    caplog: pytest.LogCaptureFixture,
) -> None:
    voter = make_user("throwaway@mailinator.com")  # 0.3 + scripted 0.5 + new 0.2
    log_in(web, voter)
    with caplog.at_level(logging.WARNING, logger="cocreate.fraud"):
        response = vote(web, world, world.ideas[0], agent=SCRIPT)
    assert response.status_code == 200
    assert "We could not accept this vote" in response.text
    assert 'name="altcha"' not in response.text
    # The block keeps a usable vote button: nothing was recorded, a person may try again.
    idea_id = world.ideas[0].id
    url = f"/c/{world.campaign.slug}/vote/{idea_id}"
    assert response.text.startswith(f'<div class="entrant-vote" id="vote-{idea_id}">')
    assert f'hx-post="{url}" hx-target="#vote-{idea_id}" hx-swap="outerHTML"' in response.text
    assert f'<form method="post" action="{url}"' in response.text
    assert re.search(r'name="csrf_token" value="[^"]+"', response.text)
    assert f'<button type="submit" id="vote-button-{idea_id}"' in response.text
    assert votes_of(session, voter) == []
    # That button works: pressed from an ordinary browser, the vote is taken.
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', response.text)
    assert csrf
    again = web.post(
        url,
        data={"csrf_token": csrf.group(1)},
        headers={
            "User-Agent": BROWSER,
            "HX-Request": "true",
            "HX-Current-URL": "http://testserver/",
        },
    )
    assert again.status_code == 200 and "We could not accept this vote" not in again.text
    assert [v.idea_id for v in votes_of(session, voter)] == [idea_id]
    unvote(web, world, world.ideas[0])
    [line] = [r.getMessage() for r in caplog.records if r.name == "cocreate.fraud"]
    assert f"voter={voter.id}" in line and "disposable_email=0.30" in line
    assert IP not in line
    plain = vote(web, world, world.ideas[0], agent=SCRIPT, htmx=False)
    assert plain.status_code == 303
    page = web.get(plain.headers["location"].split("#")[0])
    assert "We could not accept this vote" in page.text


def test_the_refusal_is_in_the_voters_language(
    session: Session, web: TestClient, world: VotingWorld, make_user: Callable[..., User]
) -> None:
    voter = make_user("jetable@mailinator.com")
    voter.locale = "fr"
    session.add(voter)
    session.commit()
    log_in(web, voter)
    response = vote(web, world, world.ideas[0], agent=SCRIPT)
    assert "Nous n’avons pas pu accepter ce vote" in response.text


def test_accounts_of_one_mailbox_raise_each_others_score(
    session: Session, web: TestClient, world: VotingWorld, make_user: Callable[..., User]
) -> None:
    first = make_user("pat.smith@gmail.com")
    second = make_user("patsmith+vote2@googlemail.com")
    assert second.canonical_mailbox == first.canonical_mailbox == "patsmith@gmail.com"
    log_in(web, first)
    vote(web, world, world.ideas[0])
    web.cookies.clear()
    log_in(web, second)
    vote(web, world, world.ideas[0])
    [stored] = votes_of(session, second)
    assert stored.risk_signals["mailbox_siblings"] == pytest.approx(0.3)
    [earlier] = votes_of(session, first)
    assert "mailbox_siblings" not in earlier.risk_signals  # nobody had voted yet


def test_a_ranked_ballot_in_the_middle_band_is_held(
    session: Session, app: Any, owner: User, make_user: Callable[..., User]
) -> None:
    ranked = make_voting_world(session, owner, method="ranked", max_votes=2, visibility="hidden")
    voter = make_user("rank@example.org")
    with at(app) as c:
        log_in(c, voter)
        csrf = token(c, ranked.ballot_url)
        response = c.post(
            f"/c/{ranked.campaign.slug}/ranking",
            data={"csrf_token": csrf, "rank-1": str(ranked.ideas[0].id), "rank-2": ""},
            headers={"User-Agent": SCRIPT},
        )
    assert response.status_code == 303
    assert [v.status for v in votes_of(session, voter)] == [VoteStatus.HELD]


# --- The policy in the campaign console -------------------------------------------------------


def policy_of(session: Session, world: VotingWorld) -> Any:
    round_id = world.round.id
    session.rollback()
    session.expire_all()
    return session.exec(select(Round.fraud_policy).where(Round.id == round_id)).one()


def test_the_owner_sets_the_fraud_policy_even_while_the_round_is_open(
    session: Session, web: TestClient, world: VotingWorld, owner: User
) -> None:
    log_in(web, owner)
    page = web.get(world.round_url)
    assert page.status_code == 200 and 'name="fraud_challenge_above" ' in page.text
    assert 'value="50"' in page.text and 'value="90"' in page.text
    form = {"visibility": "live", "fraud_challenge_above": "30", "fraud_refuse_above": "80"}
    saved = post_form(web, world.round_url, {**form, "fraud_middle": "hold"}, page=world.round_url)
    assert saved.status_code == 303
    assert policy_of(session, world) == {
        "challenge_above": 30,
        "refuse_above": 80,
        "middle": "hold",
    }
    bad = post_form(
        web,
        world.round_url,
        {**form, "fraud_refuse_above": "20", "fraud_middle": "challenge"},
        page=world.round_url,
    )
    assert bad.status_code == 400
    assert "cannot be below the check threshold" in bad.text
    out_of_range = post_form(
        web,
        world.round_url,
        {**form, "fraud_challenge_above": "101", "fraud_middle": "hold"},
        page=world.round_url,
    )
    assert out_of_range.status_code == 400
    assert policy_of(session, world)["challenge_above"] == 30


# --- Several workers on Redis, and privacy --------------------------------------------------


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    import secrets

    try:
        server = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        server.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis at {REDIS_URL} is required: {exc}")
    prefix = f"cocreate-test-{secrets.token_hex(6)}"
    try:
        yield prefix
    finally:
        keys = list(server.scan_iter(f"{prefix}*"))
        if keys:
            server.delete(*keys)
        server.close()


def two_workers(settings: Settings, clock: FrozenClock, prefix: str) -> list[Any]:
    workers = [create_app(dataclasses.replace(settings, redis_url=REDIS_URL), clock=clock)]
    workers.append(create_app(dataclasses.replace(settings, redis_url=REDIS_URL), clock=clock))
    for worker in workers:
        worker.state.rate_limiter = RateLimiter(REDIS_URL, key_prefix=prefix)
    return workers


def test_two_workers_on_redis_share_the_vote_windows(
    session: Session,
    settings: Settings,
    engine: Any,
    clock: FrozenClock,
    world: VotingWorld,
    make_user: Callable[..., User],
    redis_prefix: str,
) -> None:
    """Sixteen votes in a minute, eight on each worker: each alone would see eight (under the
    free ten); the velocity signal fires only if both count into one shared window."""
    voter = make_user("fast@example.org")
    a_app, b_app = two_workers(settings, clock, redis_prefix)
    idea = world.ideas[0]
    with at(a_app) as a, at(b_app) as b:
        log_in(a, voter)
        b.cookies.update(a.cookies)
        for n in range(16):
            client = a if n % 2 == 0 else b
            assert "is counted." in vote(client, world, idea).text
            unvote(client, world, idea)
    last = votes_of(session, voter)[-1]
    assert last.risk_signals.get("velocity", 0) > 0


def test_a_solution_spent_on_one_worker_is_refused_on_the_other(
    session: Session,
    settings: Settings,
    engine: Any,
    clock: FrozenClock,
    world: VotingWorld,
    make_user: Callable[..., User],
    redis_prefix: str,
) -> None:
    voter = make_user("twice@example.org")
    a_app, b_app = two_workers(settings, clock, redis_prefix)
    idea = world.ideas[0]
    with at(a_app) as a, at(b_app) as b:
        log_in(a, voter)
        b.cookies.update(a.cookies)
        payload = solve(vote(a, world, idea, agent=SCRIPT).text)
        assert "is counted." in vote(a, world, idea, agent=SCRIPT, altcha=payload).text
        unvote(a, world, idea)
        assert "already used" in vote(b, world, idea, agent=SCRIPT, altcha=payload).text
    server = redis.Redis.from_url(REDIS_URL)
    keys = [k.decode() for k in server.scan_iter(f"{redis_prefix}*")]
    server.close()
    assert any("altcha-used" in k for k in keys) and any("vote-network" in k for k in keys)
    assert not any("203.0.113" in k for k in keys), keys


def test_no_raw_ip_in_the_votes_table_or_the_rate_limit_keys(
    session: Session, app: Any, world: VotingWorld, make_user: Callable[..., User]
) -> None:
    voter = make_user("private@example.org")
    with at(app, "203.0.113.77") as c:
        log_in(c, voter)
        assert "is counted." in vote(c, world, world.ideas[0]).text
    session.rollback()
    rows = session.execute(text("SELECT * FROM votes")).all()
    assert rows and not any("203.0.113" in str(value) for row in rows for value in row)
    [stored] = votes_of(session, voter)
    assert stored.ip_hash and len(stored.ip_hash) == 64 and stored.ip_prefix_hash
    keys = app.state.rate_limiter.windows.memory.keys()
    assert any(k.startswith("vote-network/") for k in keys)
    assert not any("203.0.113" in k for k in keys), keys
