"""Two moderators deciding the same idea at the same moment, for real: HTTP requests from two
threads against `cocreate serve` running two uvicorn worker processes, on SQLite and on
PostgreSQL. Whatever the timing, exactly one decision is recorded per idea and the loser is
told someone else was faster (409).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx2
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from cocreate.accounts.models import User
from cocreate.clock import FrozenClock
from cocreate.moderation.models import ModerationDecision
from tests.conftest import PASSWORD, free_port
from tests.moderation_support import (
    Server,
    World,
    build_world,
    http_log_in,
    make_idea,
    server_command,
    server_env,
)
from tests.processes import running

ROUNDS = 25
QUEUE = "/brands/crispy-co/moderation"


def at_the_same_time(
    posts: list[tuple[httpx2.Client, str, dict[str, str]]],
) -> list[httpx2.Response | None]:
    """Send the POSTs from one thread each, released together by a barrier."""
    start = threading.Barrier(len(posts))
    responses: list[httpx2.Response | None] = [None] * len(posts)

    def send(i: int) -> None:
        client, path, data = posts[i]
        start.wait()
        # A new connection each time, so that the requests of a round are as likely as not
        # to be served by different worker processes.
        responses[i] = client.post(path, data=data, headers={"Connection": "close"})

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(posts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return responses


@pytest.fixture
def world(session: Session, make_user: Callable[..., User]) -> World:
    return build_world(session, make_user)


@pytest.fixture
def server(database_url: str, engine: Engine, tmp_path: Path) -> Iterator[Server]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "server.log"
    env = server_env(url=url, database_url=database_url, data_dir=tmp_path)
    # Two worker processes: the two requests really run at the same time, each with its own
    # database connection (one process would run async handlers one after the other).
    with running(
        server_command(port, workers=2), env=env, ready_url=f"{url}/readyz", log_path=log_path
    ):
        yield Server(url=url)
    output = log_path.read_text(errors="replace")
    assert "Traceback" not in output, output


def test_two_moderators_racing_record_exactly_one_decision(
    server: Server, session: Session, world: World, clock: FrozenClock
) -> None:
    ideas = [
        make_idea(session, world.campaign, world.author, f"Race {n}", clock=clock)
        for n in range(ROUNDS)
    ]
    moderators = [world.moderator, world.second_moderator]
    clients = [
        httpx2.Client(base_url=server.url, follow_redirects=False, timeout=30) for _ in moderators
    ]
    tokens = [
        http_log_in(c, m.email or "", PASSWORD) for c, m in zip(clients, moderators, strict=True)
    ]
    forms = [{"action": "approve"}, {"action": "reject", "reason": "spam"}]
    lost_in_the_write = 0
    try:
        for idea in ideas:
            responses = at_the_same_time(
                [
                    (client, f"{QUEUE}/ideas/{idea.id}/decide", {"csrf_token": token, **form})
                    for client, token, form in zip(clients, tokens, forms, strict=True)
                ]
            )
            assert all(r is not None for r in responses)
            statuses = sorted(r.status_code for r in responses if r is not None)
            assert statuses == [303, 409], [r.text[:300] for r in responses if r]
            loser = next(r for r in responses if r is not None and r.status_code == 409)
            if "Another moderator decided this idea a moment ago." in loser.text:
                lost_in_the_write += 1  # both passed the first read: the database decided
    finally:
        for client in clients:
            client.close()

    session.rollback()
    for idea in ideas:
        recorded = session.exec(
            select(ModerationDecision).where(ModerationDecision.idea_id == idea.id)
        ).all()
        assert len(recorded) == 1, [(d.action, d.actor_id) for d in recorded]
        session.refresh(idea)
        assert idea.status == recorded[0].status_after
    # The two requests really overlapped (both read "pending") at least once: otherwise this
    # test would only show that requests one after the other are refused.
    assert lost_in_the_write >= 1, "no round ran concurrently; the race was not tested"


def test_two_moderators_escalating_at_once_escalate_once(
    server: Server, session: Session, world: World, clock: FrozenClock
) -> None:
    ideas = [
        make_idea(session, world.campaign, world.author, f"Borderline {n}", clock=clock)
        for n in range(10)
    ]
    moderators = [world.moderator, world.second_moderator]
    clients = [httpx2.Client(base_url=server.url, follow_redirects=False) for _ in moderators]
    try:
        tokens = [
            http_log_in(c, m.email or "", PASSWORD)
            for c, m in zip(clients, moderators, strict=True)
        ]
        for idea in ideas:
            responses = at_the_same_time(
                [
                    (c, f"{QUEUE}/ideas/{idea.id}/decide", {"csrf_token": t, "action": "escalate"})
                    for c, t in zip(clients, tokens, strict=True)
                ]
            )
            statuses = sorted(r.status_code for r in responses if r is not None)
            assert statuses == [303, 409], [r.text[:300] for r in responses if r]
    finally:
        for client in clients:
            client.close()
    session.rollback()
    for idea in ideas:
        recorded = session.exec(
            select(ModerationDecision).where(ModerationDecision.idea_id == idea.id)
        ).all()
        assert [d.action for d in recorded] == ["escalate"]
