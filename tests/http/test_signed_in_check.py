"""The signed-in check on every request (security/access.py `current_user`), on both databases.

It reads the account with one Core query and attaches it to the request's session: a
disabled or deleted account, or a bumped session version, must still be refused on the very
next request (the vote endpoint, as htmx sends it, and a page), and a handler that changes
the account must still save the change.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlmodel import Session, select
from starlette.testclient import TestClient

from cocreate.accounts.models import User
from cocreate.clock import FrozenClock
from cocreate.voting.models import Vote
from tests.conftest import log_in
from tests.voting_support import T0, VotingWorld, htmx_post, make_voting_world, token


@pytest.fixture(autouse=True)
def frozen(clock: FrozenClock) -> FrozenClock:
    clock.at = T0
    return clock


@pytest.fixture
def world(session: Session, make_user: Callable[..., User]) -> VotingWorld:
    owner = make_user("owner@example.com")
    return make_voting_world(session, owner, method="approval", max_votes=3)


def _signed_in_voter(
    client: TestClient, make_user: Callable[..., User], world: VotingWorld
) -> tuple[User, str]:
    voter = make_user("voter@example.com", name="Vera")
    log_in(client, voter)
    csrf = token(client, world.ballot_url)
    first = htmx_post(client, world.vote_url(world.ideas[0]), csrf)
    assert first.status_code == 200 and "is counted" in first.text
    return voter, csrf


def _change(session: Session, user_id: int, **values: object) -> None:
    session.rollback()
    user = session.get(User, user_id)
    assert user is not None
    for name, value in values.items():
        setattr(user, name, value)
    session.commit()


def _votes(session: Session) -> int:
    session.rollback()
    return len(session.exec(select(Vote)).all())


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"disabled": True}, id="disabled"),
        pytest.param({"deleted_at": T0}, id="deleted"),
        pytest.param({"session_version": 1}, id="signed-out-everywhere"),
    ],
)
def test_a_vote_is_refused_at_once_when_the_account_is_no_longer_valid(
    client: TestClient,
    session: Session,
    make_user: Callable[..., User],
    world: VotingWorld,
    change: dict[str, object],
) -> None:
    voter, csrf = _signed_in_voter(client, make_user, world)
    assert voter.id is not None
    _change(session, voter.id, **change)

    refused = htmx_post(client, world.vote_url(world.ideas[1]), csrf)

    assert refused.status_code == 303
    assert refused.headers["location"].startswith("/login")
    assert _votes(session) == 1
    # The session forgot the account: the ballot page is an anonymous visitor's.
    page = client.get(world.ballot_url)
    assert "Log in to vote" in page.text or "/login?next=" in page.text
    assert "Vera" not in page.text


def test_an_account_that_is_valid_again_needs_a_new_log_in(
    client: TestClient, session: Session, make_user: Callable[..., User], world: VotingWorld
) -> None:
    voter, csrf = _signed_in_voter(client, make_user, world)
    assert voter.id is not None
    _change(session, voter.id, disabled=True)
    assert htmx_post(client, world.vote_url(world.ideas[1]), csrf).status_code == 303
    _change(session, voter.id, disabled=False)

    # The refused request dropped the account from the cookie: enabling it again does not
    # bring that browser back signed in.
    again = htmx_post(client, world.vote_url(world.ideas[1]), csrf)
    assert again.status_code == 303
    assert _votes(session) == 1


def test_a_handler_that_changes_the_signed_in_account_saves_it(
    client: TestClient, session: Session, make_user: Callable[..., User], world: VotingWorld
) -> None:
    from tests.conftest import post_form

    voter = make_user("voter@example.com", name="Vera")
    log_in(client, voter)
    # Choosing a language while signed in stores it on the account (the attached object).
    answer = post_form(client, "/language", {"locale": "fr", "next": "/"}, page="/")
    assert answer.status_code == 303
    session.rollback()
    session.expire_all()
    stored = session.get(User, voter.id)
    assert stored is not None and stored.locale == "fr"


def test_the_check_works_in_a_fresh_process_before_any_orm_query(database_url: str) -> None:
    """A worker's first request reads the account before the ORM ever ran a query (mappers
    not configured yet): the check's own query configures them, it does not fail."""
    script = """
import sys
from sqlmodel import Session
from cocreate.db import make_engine
from cocreate.accounts.models import User
engine = make_engine(sys.argv[1])
with Session(engine) as session:
    user = session.get(User, 1)
    assert user is None or (user in session and not session.dirty)
print("ok")
"""
    done = subprocess.run(
        [sys.executable, "-c", script, database_url],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent.parent,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "ok"
