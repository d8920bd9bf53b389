"""The vote pipeline (voting/cast.py, one use case for every vote; voting/routes.py `vote`
and `unvote`, batched routes run by cocreate/group_commit.py), on both databases.

These tests check what a usual vote costs in statements, that the group commit answers
exactly as a request run alone does, that an attempt is counted once in the fraud windows,
and that votes stay correct when several workers race or arrive together.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from sqlalchemy import event
from sqlmodel import Session, select
from starlette.testclient import TestClient

from cocreate.accounts.models import User
from cocreate.app import create_app
from cocreate.clock import FrozenClock
from cocreate.fraud.screen import VELOCITY
from cocreate.ideas.models import Idea
from cocreate.security.access import SIGNED_IN, route
from cocreate.settings import Settings
from cocreate.voting import routes as voting_routes
from cocreate.voting.models import Ballot, IdeaTally, Vote
from cocreate.voting.service import live_tally, recount
from tests.conftest import close_every_connection, free_port, log_in, run_async
from tests.moderation_support import server_command, server_env
from tests.processes import running
from tests.voting_support import T0, VotingWorld, htmx_post, make_voting_world, token

SCRIPT = "python-requests/2.31"  # a scripted user agent: the default policy asks for a check


@pytest.fixture(autouse=True)
def frozen(clock: FrozenClock) -> FrozenClock:
    clock.at = T0
    return clock


def unbatched(app: Any) -> Any:
    """The same app with vote and unvote built without their group commit: each request in
    a request thread and a transaction of its own."""
    replaced = 0
    for n, found in enumerate(app.router.routes):
        if getattr(found, "path", "") in ("/c/{slug}/vote/{idea_id:id}",):
            app.router.routes[n] = route(
                found.path, voting_routes.vote, access=SIGNED_IN, methods=["POST"]
            )
            replaced += 1
        elif getattr(found, "path", "") == "/c/{slug}/unvote/{idea_id:id}":
            app.router.routes[n] = route(
                found.path, voting_routes.unvote, access=SIGNED_IN, methods=["POST"]
            )
            replaced += 1
    assert replaced == 2, "the vote routes moved: update their paths here"
    return app


@contextmanager
def statements_through_sqlalchemy(app: Any) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    engine = app.state.db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


@contextmanager
def signed_in(app: Any, voter: User, world: VotingWorld) -> Iterator[tuple[TestClient, str]]:
    """A client of `app` (its lifespan runs: the app's engine is disposed after), signed in."""
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as client:
        log_in(client, voter)
        yield client, token(client, world.ballot_url)


def test_a_usual_vote_is_two_statements_on_postgresql(
    app: Any, engine: Any, session: Session, make_user: Callable[..., User]
) -> None:
    """PostgreSQL: the signed-in account with the open round (and the voter's mailbox
    siblings), one statement; then the vote itself, one statement that commits alone; the
    unvote likewise, then the idea's title for its answer. No BEGIN and
    no COMMIT: the vote routes run in autocommit (group_commit). A double click reads what
    the ballot has left and the count it shows besides. SQLite: the same, in the batch's
    savepoints."""
    world = make_voting_world(session, make_user("owner@example.com"), max_votes=3)
    with (
        signed_in(app, make_user("voter@example.com"), world) as (client, csrf),
        statements_through_sqlalchemy(app) as seen,
    ):
        idea = world.ideas[0]
        counted = htmx_post(client, world.vote_url(idea), csrf)
        assert "is counted" in counted.text
        by_vote = list(seen)
        seen.clear()
        assert "already voted" in htmx_post(client, world.vote_url(idea), csrf).text
        by_repeat = list(seen)
        seen.clear()
        taken_back = htmx_post(client, world.unvote_url(idea), csrf)
        assert "Take back" not in taken_back.text and "Vote" in taken_back.text
        by_unvote = list(seen)
    writes = [sql for sql in by_vote if not sql.lstrip().upper().startswith(("SELECT", "WITH"))]
    if engine.dialect.name == "postgresql":
        assert len(by_vote) == 2 and writes == [], by_vote
        assert len(by_repeat) == 4, by_repeat
        assert len(by_unvote) == 3, by_unvote
    else:  # savepoints, and three writes: the vote, the ballot, the tally
        assert len([sql for sql in by_vote if "INSERT" in sql]) == 3, by_vote


def _same_apart_from(text: str, idea: Idea) -> str:
    """The answer with the idea's own id and title, and the session's token, made neutral."""
    text = re.sub(rf"(?<=[/#-]){idea.id}\b", "ID", text)  # vote-7, /vote/7, #idea-7
    text = re.sub(r'name="csrf_token" value="[^"]+"', "CSRF", text)
    return text.replace(idea.title, "TITLE")


@pytest.mark.parametrize(
    "settings_of_round",
    [
        pytest.param({"method": "approval", "max_votes": 3, "visibility": "live"}, id="approval"),
        pytest.param({"method": "single", "visibility": "ranks"}, id="single"),
        pytest.param(
            {"method": "points", "max_votes": 3, "points_budget": 10, "visibility": "live"},
            id="points",
        ),
        pytest.param({"method": "approval", "max_votes": 2, "frequency": "daily"}, id="daily"),
    ],
)
@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain"])
def test_a_batched_vote_answers_as_one_run_alone(
    settings: Settings,
    engine: Any,
    clock: FrozenClock,
    session: Session,
    make_user: Callable[..., User],
    settings_of_round: dict[str, Any],
    htmx: bool,
) -> None:
    world = make_voting_world(session, make_user("owner@example.com"), **settings_of_round)
    batched_app = create_app(settings, clock=clock)
    alone_app = unbatched(create_app(settings, clock=clock))
    data = {"points": "4"} if settings_of_round["method"] == "points" else {}
    answers = []
    for app, voter, idea in (
        (batched_app, make_user("fast@example.com"), world.ideas[0]),
        (alone_app, make_user("usual@example.com"), world.ideas[1]),
    ):
        steps = []
        with signed_in(app, voter, world) as (client, csrf):
            vote, unvote = world.vote_url(idea), world.unvote_url(idea)
            for url in (vote, unvote, vote, vote):  # the last a repeat: "already voted"
                if htmx:
                    answer = htmx_post(client, url, csrf, data)
                    steps.append((answer.status_code, _same_apart_from(answer.text, idea)))
                else:
                    answer = client.post(url, data={**data, "csrf_token": csrf})
                    page = client.get(answer.headers["location"])
                    shown = re.findall(r'role="status"[^>]*>([^<]*)<', page.text)
                    steps.append((answer.status_code, _same_apart_from(" | ".join(shown), idea)))
                    steps.append((0, _same_apart_from(answer.headers["location"], idea)))
        answers.append(steps)
    assert answers[0] == answers[1]
    assert all(status in (0, 200, 303) for status, _text in answers[0])
    session.rollback()
    assert live_tally(session=session, round_id=world.round.id or 0) == recount(
        session=session, round_id=world.round.id or 0
    )


def test_a_challenged_attempt_is_counted_once_in_the_windows(
    app: Any, client: TestClient, session: Session, make_user: Callable[..., User]
) -> None:
    """The vote is screened once: a check is needed, and the attempt counts once in the
    windows (the solved check then reads them without counting again)."""
    world = make_voting_world(session, make_user("owner@example.com"), max_votes=3)
    voter = make_user("script@example.com")
    log_in(client, voter)
    csrf = token(client, world.ballot_url)
    answer = client.post(
        world.vote_url(world.ideas[0]),
        headers={"HX-Request": "true", "X-CSRFToken": csrf, "User-Agent": SCRIPT},
    )
    assert "altcha" in answer.text.lower() or "check" in answer.text.lower()
    (attempts,) = app.state.rate_limiter.windows.counts([(VELOCITY, str(voter.id))], hit=False)
    assert attempts == 1
    session.rollback()
    assert session.exec(select(Vote)).all() == []


def test_a_vote_the_ballot_cannot_pay_for_stores_nothing_and_is_explained(
    app: Any, session: Session, make_user: Callable[..., User]
) -> None:
    world = make_voting_world(session, make_user("owner@example.com"), max_votes=1)
    with signed_in(app, make_user("voter@example.com"), world) as (client, csrf):
        assert "is counted" in htmx_post(client, world.vote_url(world.ideas[0]), csrf).text
        refused = htmx_post(client, world.vote_url(world.ideas[1]), csrf)
        again = htmx_post(client, world.vote_url(world.ideas[0]), csrf)
    assert "no votes left" in refused.text.lower() or "used all" in refused.text.lower()
    assert again.status_code == 200 and "already" in again.text.lower()
    session.rollback()
    assert len(session.exec(select(Vote)).all()) == 1
    ballot = session.exec(select(Ballot)).one()
    assert ballot.votes_left == 0


def test_workers_racing_on_one_voter_store_what_the_ballot_allows(
    settings: Settings,
    engine: Any,
    clock: FrozenClock,
    session: Session,
    make_user: Callable[..., User],
) -> None:
    """Four workers (four apps, each in its own thread, on one database), one voter clicking
    everywhere at once: one live vote per idea, no more votes than the ballot allows, every
    request answered (none a 500), tallies equal to a recount."""
    world = make_voting_world(session, make_user("owner@example.com"), ideas=6, max_votes=3)
    voter = make_user("eager@example.com")
    workers = [create_app(settings, clock=clock) for _ in range(4)]
    statuses: list[int] = []
    errors: list[BaseException] = []
    with signed_in(create_app(settings, clock=clock), voter, world) as (first, csrf):
        cookies = dict(first.cookies)

    def click_everything(app: Any) -> None:
        try:
            with TestClient(app, base_url="http://testserver", follow_redirects=False) as c:
                c.cookies.update(cookies)
                for _ in range(3):
                    for idea in world.ideas:
                        statuses.append(htmx_post(c, world.vote_url(idea), csrf).status_code)
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=click_everything, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert len(statuses) == 4 * 3 * 6 and set(statuses) <= {200}
    session.rollback()
    votes = session.exec(select(Vote).where(Vote.voter_id == voter.id)).all()
    assert len(votes) == 3
    assert len({v.idea_id for v in votes}) == 3
    assert session.exec(select(Ballot)).one().votes_left == 0
    round_id = world.round.id or 0
    assert live_tally(session=session, round_id=round_id) == recount(
        session=session, round_id=round_id
    )
    assert sum(t.votes for t in session.exec(select(IdeaTally)).all()) == 3


def test_a_vote_after_the_server_closed_the_connections_is_counted(
    app: Any, engine: Any, session: Session, make_user: Callable[..., User]
) -> None:
    """PostgreSQL: after a restart or an idle timeout every pooled connection is dead. A
    batch checks its connection as it leaves the pool (the pre-ping, once per batch): the
    vote is counted once, and no error page."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no server to close connections")
    world = make_voting_world(session, make_user("owner@example.com"), max_votes=3)
    session.close()
    with signed_in(app, make_user("voter@example.com"), world) as (client, csrf):
        assert "is counted" in htmx_post(client, world.vote_url(world.ideas[0]), csrf).text
        close_every_connection(engine)
        again = htmx_post(client, world.vote_url(world.ideas[1]), csrf)
        assert again.status_code == 200 and "is counted" in again.text
        # Other pages too: a session's connection is checked as it leaves the pool.
        close_every_connection(engine)
        assert client.get(world.ballot_url).status_code == 200
    voted = session.exec(select(Vote.idea_id).where(Vote.withdrawn_at.is_(None)))  # type: ignore[union-attr]
    assert sorted(voted) == [world.ideas[0].id, world.ideas[1].id]


def test_a_new_workers_first_request_may_be_a_vote(
    settings: Settings, session: Session, make_user: Callable[..., User], tmp_path: Path
) -> None:
    """A worker just started (`cocreate serve`, one worker) whose first request is a vote: it
    is counted. (When the vote built its objects outside any session, a worker's first vote
    was a 500 until some other request had configured the mappers.)"""
    world = make_voting_world(session, make_user("owner@example.com"), now=datetime.now(UTC))
    voter = make_user("first@example.com")
    cookie, csrf = signed_in_cookies(create_app(settings), world, [voter])[voter.id]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **server_env(url=url, database_url=settings.database_url, data_dir=tmp_path),
        "COCREATE_SECRET_KEY": settings.secret_key,
    }
    log_path = tmp_path / "server.log"
    with running(server_command(port), env=env, ready_url=f"{url}/readyz", log_path=log_path):
        answer = httpx2.post(
            url + world.vote_url(world.ideas[0]),
            headers={"Cookie": cookie, "HX-Request": "true", "X-CSRFToken": csrf},
            timeout=30,
        )
    assert answer.status_code == 200, log_path.read_text(errors="replace")[-3000:]
    assert "is counted" in answer.text
    session.rollback()
    assert len(session.exec(select(Vote).where(Vote.voter_id == voter.id)).all()) == 1


Cookies = dict[int | None, tuple[str, str]]


def signed_in_cookies(app: Any, world: VotingWorld, voters: list[User]) -> Cookies:
    """Each voter's cookie header and CSRF token, signed in to `app`."""
    cookies: Cookies = {}
    for voter in voters:
        with signed_in(app, voter, world) as (client, csrf):
            cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
            cookies[voter.id] = (cookie, csrf)
    return cookies


def sent_together(
    app: Any, world: VotingWorld, clicks: list[tuple[User, Idea]], cookies: Cookies | None = None
) -> list[httpx.Response]:
    """Each voter's htmx vote for the idea, all sent at once (one event loop, as a uvicorn
    worker: they make batches, group_commit); the answers in order."""
    if cookies is None:
        cookies = signed_in_cookies(app, world, list({v.id: v for v, _idea in clicks}.values()))

    async def click_all() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            return await asyncio.gather(
                *(
                    c.post(
                        world.vote_url(idea),
                        headers={
                            "Cookie": cookies[voter.id][0],
                            "User-Agent": "testclient",  # as signed in (not a script's)
                            "HX-Request": "true",
                            "X-CSRFToken": cookies[voter.id][1],
                        },
                    )
                    for voter, idea in clicks
                )
            )

    try:
        return run_async(click_all())
    finally:
        app.state.db.engine.dispose()  # (no lifespan ran around these requests)


def test_votes_arriving_together_are_committed_together_and_answered_alike(
    app: Any, session: Session, make_user: Callable[..., User]
) -> None:
    """Votes of several voters sent at once (one event loop, as a uvicorn worker) make
    batches (group_commit; on SQLite one transaction each). Each is answered as if alone: a
    double click in the same batch counts once, a ballot emptied within the batch refuses the
    next vote, and ballots and tallies equal the vote log."""
    world = make_voting_world(session, make_user("owner@example.com"), ideas=6, max_votes=2)
    voters = [make_user(f"voter{n}@example.com") for n in range(6)]
    clicks = [(n, idea) for n in range(6) for idea in (world.ideas[n], world.ideas[(n + 1) % 6])]
    clicks += [(0, world.ideas[0]), (1, world.ideas[5])]  # a double click; a third vote
    answers = sent_together(app, world, [(voters[n], idea) for n, idea in clicks])
    assert [answer.status_code for answer in answers] == [200] * len(clicks)
    group = app.state.db.group_commit
    assert group.pieces >= len(clicks) > group.batches
    texts = [answer.text.lower() for answer in answers]
    # Which of two clicks on the same ballot comes first is the server's choice (PostgreSQL
    # runs them in threads at once): per ballot, the outcomes are what one after another gives.
    assert all("is counted" in texts[i] for i in range(12) if i not in (0, 2, 3))
    double_click = sorted("already" in texts[i] for i in (0, 12))
    assert double_click == [False, True] and "is counted" in texts[0] + texts[12]
    refused = ["no votes left" in texts[i] or "used all" in texts[i] for i in (2, 3, 13)]
    assert sorted(refused) == [False, False, True]
    session.rollback()
    votes = session.exec(select(Vote)).all()
    assert len(votes) == 12
    assert all(ballot.votes_left == 0 for ballot in session.exec(select(Ballot)).all())
    round_id = world.round.id or 0
    assert live_tally(session=session, round_id=round_id) == recount(
        session=session, round_id=round_id
    )


def test_the_votes_of_a_batch_read_each_voters_mailbox(
    app: Any,
    session: Session,
    make_user: Callable[..., User],
    frozen: FrozenClock,
) -> None:
    """Each vote of a batch reads its voter's mailbox siblings, seeing the votes made earlier
    in the same batch: of two accounts of one mailbox voting in one batch, the second is
    flagged."""
    world = make_voting_world(session, make_user("owner@example.com"), ideas=4)
    frozen.at = T0 - timedelta(days=30)  # accounts of a month: no new-account signal
    pat = make_user("pat.smith@gmail.com")
    pat_again = make_user("patsmith+vote2@googlemail.com")
    others = [make_user(f"voter{n}@example.com") for n in range(4)]
    frozen.at = T0
    voters = [others[0], pat, others[1], pat_again, others[2], others[3]]
    answers = sent_together(app, world, [(voter, world.ideas[0]) for voter in voters])
    assert [answer.status_code for answer in answers] == [200] * len(voters)
    assert all("is counted" in answer.text for answer in answers)
    session.rollback()
    signals = {vote.voter_id: vote.risk_signals for vote in session.exec(select(Vote)).all()}
    assert len(signals) == len(voters)
    flagged = [voter for voter in voters if "mailbox_siblings" in signals[voter.id]]
    assert len(flagged) == 1 and flagged[0] in (pat, pat_again)  # whichever voted second
    round_id = world.round.id or 0
    assert live_tally(session=session, round_id=round_id) == recount(
        session=session, round_id=round_id
    )


def test_the_votes_of_a_batch_read_the_open_round_once(
    app: Any, session: Session, make_user: Callable[..., User]
) -> None:
    """The campaign and its open round are read by a batch's first vote only
    (`group_commit.batch_memo`); the others read their account (and mailbox siblings)."""
    world = make_voting_world(session, make_user("owner@example.com"), ideas=3)
    voters = [make_user(f"voter{n}@example.com") for n in range(8)]
    cookies = signed_in_cookies(app, world, voters)
    with statements_through_sqlalchemy(app) as seen:
        answers = sent_together(app, world, [(v, world.ideas[0]) for v in voters], cookies)
    assert all("is counted" in answer.text for answer in answers)
    group = app.state.db.group_commit
    assert group.batches < group.pieces == len(voters)
    round_reads = [sql for sql in seen if "stages" in sql and "campaigns" in sql]
    account_reads = [sql for sql in seen if "FROM (SELECT 1" in sql and "stages" not in sql]
    assert len(round_reads) == group.batches, round_reads
    assert len(account_reads) == len(voters) - group.batches


class TickingClock(FrozenClock):
    """A clock that moves a second each time it is read."""

    def now(self) -> datetime:
        self.at += timedelta(seconds=1)
        return self.at


def test_a_vote_of_a_batch_made_after_the_round_closed_is_not_stored(
    settings: Settings, session: Session, make_user: Callable[..., User]
) -> None:
    """Votes of one batch, the clock passing the stage's close among them: each vote whose own
    time is past the close is refused as closed, as when the stage closes during a vote."""
    world = make_voting_world(session, make_user("owner@example.com"), ideas=2)
    closes = world.stage.closes_at
    voters = [make_user(f"voter{n}@example.com") for n in range(8)]
    clock = TickingClock(closes - timedelta(hours=1))
    app = create_app(settings, clock=clock)
    cookies = signed_in_cookies(app, world, voters)
    clock.at = closes - timedelta(seconds=8)  # each vote reads the clock about three times
    answers = sent_together(app, world, [(voter, world.ideas[0]) for voter in voters], cookies)
    assert all(answer.status_code == 200 for answer in answers)
    counted = [answer for answer in answers if "is counted" in answer.text]
    assert 0 < len(counted) < len(voters)
    session.rollback()
    stored = session.exec(select(Vote)).all()
    assert len(stored) == len(counted)
    assert all(vote.cast_at < closes for vote in stored)
    round_id = world.round.id or 0
    assert live_tally(session=session, round_id=round_id) == recount(
        session=session, round_id=round_id
    )


def test_a_batched_endpoint_that_does_not_admit_the_account_fails(
    app: Any, session: Session, make_user: Callable[..., User]
) -> None:
    """A batched route's endpoint checks the account itself (`access.admit`): the route
    wrapper fails one that did not, rather than answer a visitor nobody checked."""
    world = make_voting_world(session, make_user("owner@example.com"))

    def forgets(request: Any) -> Any:
        from starlette.responses import Response

        return Response("answered")

    app.router.routes.insert(
        0, route("/c/{slug}/forgets", forgets, access=SIGNED_IN, methods=["POST"], batched=True)
    )
    with signed_in(app, make_user("voter@example.com"), world) as (client, csrf):
        with pytest.raises(RuntimeError, match="must call admit"):
            htmx_post(client, f"/c/{world.campaign.slug}/forgets", csrf)
