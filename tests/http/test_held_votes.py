"""The held votes page: votes layer 1 held for review, counted or voided by a moderator, and
the certification gate they keep closed while undecided."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from starlette.testclient import TestClient

from cocreate.accounts.models import User
from cocreate.audit.models import AuditEvent
from cocreate.brands.models import Brand, Role
from cocreate.clock import FrozenClock
from cocreate.forms import ValidationFailed
from cocreate.fraud import cases, held
from cocreate.results.certify import certification_blockers, certify_round
from cocreate.voting.models import Vote, VoteStatus
from cocreate.voting.service import live_tally, recount
from tests.brand_factories import add_member, make_brand
from tests.conftest import csrf_from, log_in
from tests.fraud_support import RING_AT, Attacked, add_vote, make_attacked
from tests.results_support import DAY, T0

CLOSED = T0 + 11 * DAY
SIGNALS = {"new_account": 0.2, "disposable_email": 0.3, "shared_network": 0.15}


@dataclass
class World:
    attacked: Attacked
    moderator: User
    owner: User
    consumer: User
    other_moderator: User
    other_brand: Brand

    @property
    def round_id(self) -> int:
        return self.attacked.contest.round.id or 0

    @property
    def url(self) -> str:
        return f"/brands/crispy/fraud/rounds/{self.round_id}/held"

    def idea(self, index: int) -> int:
        return self.attacked.contest.ideas[index].id or 0


@pytest.fixture
def world(session: Session, make_user: Callable[..., User], clock: FrozenClock) -> World:
    """make_attacked holds one ring vote (Voter 9's, for idea E at RING_AT); two honest voters
    get a held vote each for idea C, earlier, with the signals that held them; a third held
    vote was withdrawn by its voter and is not to be decided."""
    clock.at = T0 + 3 * DAY
    attacked = make_attacked(session)
    contest = attacked.contest
    for n, voter in enumerate(attacked.honest[:2]):
        at = T0 + DAY + n * timedelta(hours=6)
        add_vote(session, contest, voter, 2, at, status=VoteStatus.HELD)
    add_vote(session, contest, attacked.honest[2], 4, T0 + DAY, status=VoteStatus.HELD)
    session.execute(
        update(Vote)
        .where(col(Vote.status) == VoteStatus.HELD.value)
        .values(risk_score=0.65, risk_signals=SIGNALS, status_reason="held: risk 65 above 50")
    )
    session.execute(
        update(Vote)
        .where(
            col(Vote.voter_id) == attacked.honest[2].id,
            col(Vote.idea_id) == contest.ideas[4].id,
        )
        .values(withdrawn_at=T0 + DAY + timedelta(minutes=5))
    )
    session.commit()
    moderator = make_user("mod@example.com", name="Mia Moderator")
    owner = make_user("owner@example.com")
    consumer = make_user("consumer@example.com")
    other_moderator = make_user("mod-b@example.com")
    add_member(session, contest.brand, moderator, Role.MODERATOR)
    add_member(session, contest.brand, owner, Role.OWNER)
    other = make_brand(session, "other-brand", members=[(other_moderator, Role.MODERATOR)])
    return World(attacked, moderator, owner, consumer, other_moderator, other)


def post(client: TestClient, url: str, data: dict[str, object]) -> object:
    token = csrf_from(client, "/account")
    return client.post(url, data={"csrf_token": token, **data})  # type: ignore[arg-type]


def tally_matches(session: Session, world: World) -> None:
    session.rollback()
    assert live_tally(session=session, round_id=world.round_id) == recount(
        session=session, round_id=world.round_id
    )


def status_of(session: Session, world: World, voter: User, idea_index: int) -> str:
    session.rollback()
    return session.exec(
        select(Vote.status).where(
            Vote.round_id == world.round_id,
            Vote.voter_id == voter.id,
            Vote.idea_id == world.idea(idea_index),
            col(Vote.withdrawn_at).is_(None),
        )
    ).one()


def test_the_page_lists_held_votes_by_voter_oldest_first(client: TestClient, world: World) -> None:
    log_in(client, world.moderator)
    assert f'href="{world.url}"' in client.get("/brands/crispy/fraud").text
    page = client.get(world.url)
    assert page.status_code == 200
    text = page.text
    assert 'data-held-votes="3" data-held-voters="3"' in text
    assert "3 held votes" in text
    first, second = world.attacked.honest[:2]
    ringer = world.attacked.ring[3]
    positions = [text.index(f'data-voter="{u.id}"') for u in (first, second, ringer)]
    assert positions == sorted(positions)  # oldest held vote first
    assert f'data-voter="{world.attacked.honest[2].id}"' not in text  # withdrawn
    assert "Voter 0" in text and "Idea C" in text and "Idea E" in text
    assert "risk 65" in text and "disposable email domain (30)" in text
    assert "new account (20)" in text and "email confirmed" in text
    assert 'name="csrf_token"' in text and f'value="count-{first.id}"' in text


def test_the_page_is_keyset_paged(client: TestClient, session: Session, world: World) -> None:
    page = held.held_page(session=session, round_id=world.round_id, now=CLOSED, limit=2)
    assert [v.user_id for v in page.voters] == [u.id for u in world.attacked.honest[:2]]
    assert page.next_after is not None
    rest = held.held_page(
        session=session,
        round_id=world.round_id,
        now=CLOSED,
        after=held.parse_cursor(page.next_after),
        limit=2,
    )
    assert [v.user_id for v in rest.voters] == [world.attacked.ring[3].id]
    assert rest.next_after is None
    log_in(client, world.moderator)
    second = client.get(f"{world.url}?after={page.next_after}").text
    assert f'data-voter="{world.attacked.ring[3].id}"' in second
    assert f'data-voter="{world.attacked.honest[0].id}"' not in second
    assert client.get(f"{world.url}?after=x-%00").status_code == 200
    assert client.get(f"{world.url}?after={'9' * 30}-1").status_code == 200
    # The cursor is exact to the microsecond (a float timestamp is not, this far from 1970).
    at = T0 + timedelta(microseconds=123_457)
    assert held.parse_cursor(held.cursor(at, 7)) == (at, 7)


def test_counting_releases_the_votes_into_the_tally(
    client: TestClient, session: Session, world: World
) -> None:
    log_in(client, world.moderator)
    voter = world.attacked.honest[0]
    before = live_tally(session=session, round_id=world.round_id).get(world.idea(2), (0, 0))
    done = post(client, f"{world.url}/decide", {"action": f"count-{voter.id}"})
    assert done.status_code == 303  # type: ignore[attr-defined]
    page = client.get(done.headers["location"]).text  # type: ignore[attr-defined]
    assert "1 held vote now counts." in page
    assert f'data-voter="{voter.id}"' not in page
    assert status_of(session, world, voter, 2) == "counted"
    after = live_tally(session=session, round_id=world.round_id)[world.idea(2)]
    assert after == (before[0] + 1, before[1] + 1)
    tally_matches(session, world)
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "held_votes.counted")).one()
    assert event.actor_id == world.moderator.id

    again = post(client, f"{world.url}/decide", {"action": f"void-{voter.id}", "reason": "x"})
    assert again.status_code == 409  # type: ignore[attr-defined]
    assert "Someone else has just decided" in again.text  # type: ignore[attr-defined]
    # The withdrawn held vote is not there to be counted.
    withdrawn = world.attacked.honest[2]
    refused = post(client, f"{world.url}/decide", {"action": f"count-{withdrawn.id}"})
    assert refused.status_code == 409  # type: ignore[attr-defined]
    tally_matches(session, world)


def test_voiding_needs_a_reason_and_keeps_the_vote(
    client: TestClient, session: Session, world: World
) -> None:
    log_in(client, world.owner)
    voter = world.attacked.ring[3]
    before = live_tally(session=session, round_id=world.round_id)
    missing = post(client, f"{world.url}/decide", {"action": f"void-{voter.id}", "reason": " "})
    assert missing.status_code == 400  # type: ignore[attr-defined]
    assert "Give a reason" in missing.text  # type: ignore[attr-defined]
    done = post(client, f"{world.url}/decide", {"action": f"void-{voter.id}", "reason": "a ring"})
    assert done.status_code == 303  # type: ignore[attr-defined]
    assert status_of(session, world, voter, 4) == "void"
    assert live_tally(session=session, round_id=world.round_id) == before
    reason = session.exec(
        select(Vote.status_reason).where(Vote.voter_id == voter.id, Vote.idea_id == world.idea(4))
    ).one()
    assert reason == "Voided by review: a ring"


def test_bulk_decisions_for_the_selected_voters(
    client: TestClient, session: Session, world: World
) -> None:
    log_in(client, world.moderator)
    first, second = world.attacked.honest[:2]
    before = live_tally(session=session, round_id=world.round_id).get(world.idea(2), (0, 0))
    done = post(
        client,
        f"{world.url}/decide",
        {"action": "count", "voter": [str(first.id), str(second.id)], "reason": "real people"},
    )
    assert done.status_code == 303  # type: ignore[attr-defined]
    assert "2 held votes now count." in client.get(world.url).text
    session.rollback()
    assert live_tally(session=session, round_id=world.round_id)[world.idea(2)][0] == before[0] + 2
    tally_matches(session, world)
    nobody = post(client, f"{world.url}/decide", {"action": "void", "reason": "x"})
    assert nobody.status_code == 400  # type: ignore[attr-defined]
    assert "Tick at least one voter." in nobody.text  # type: ignore[attr-defined]
    unknown = post(client, f"{world.url}/decide", {"action": "delete-1"})
    assert unknown.status_code == 400  # type: ignore[attr-defined]
    assert 'data-held-votes="1"' in client.get(world.url).text


def test_others_cannot_see_or_decide(client: TestClient, session: Session, world: World) -> None:
    voter = world.attacked.honest[0]
    decide = f"{world.url}/decide"
    log_in(client, world.other_moderator)
    assert client.get(world.url).status_code == 403
    assert post(client, decide, {"action": f"count-{voter.id}"}).status_code == 403  # type: ignore[attr-defined]
    mine = f"/brands/other-brand/fraud/rounds/{world.round_id}/held"
    assert client.get(mine).status_code == 404  # not a round of their brand
    assert post(client, f"{mine}/decide", {"action": f"count-{voter.id}"}).status_code == 404  # type: ignore[attr-defined]
    client.cookies.clear()
    log_in(client, world.consumer)
    assert client.get(world.url).status_code == 403
    assert post(client, decide, {"action": f"count-{voter.id}"}).status_code == 403  # type: ignore[attr-defined]
    client.cookies.clear()
    anonymous = client.get(world.url)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    client.cookies.clear()
    log_in(client, world.moderator)
    assert client.post(decide, data={"action": f"count-{voter.id}"}).status_code == 403  # no CSRF
    assert status_of(session, world, voter, 2) == "held"


def test_two_moderators_deciding_at_once_make_one_decision(
    session: Session, engine: Engine, world: World
) -> None:
    voter = world.attacked.honest[0]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def decide(moderator: User, action: str) -> None:
        with Session(engine, expire_on_commit=False) as own:
            barrier.wait()
            try:
                held.decide_held(
                    session=own,
                    round_id=world.round_id,
                    voter_ids=[voter.id or 0],
                    action=action,
                    actor_id=moderator.id or 0,
                    reason="r",
                    now=CLOSED,
                )
            except cases.Refused:
                outcomes.append("refused")
            else:
                outcomes.append(action)

    threads = [
        threading.Thread(target=decide, args=(world.moderator, "count")),
        threading.Thread(target=decide, args=(world.owner, "void")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) in (["count", "refused"], ["refused", "void"])
    expected = "counted" if "count" in outcomes else "void"
    assert status_of(session, world, voter, 2) == expected
    tally_matches(session, world)
    events = session.exec(
        select(AuditEvent).where(col(AuditEvent.action).startswith("held_votes."))
    ).all()
    assert len(events) == 1


def test_held_votes_block_certification_until_decided(
    client: TestClient, session: Session, world: World, clock: FrozenClock
) -> None:
    round_ = world.attacked.contest.round
    blockers = certification_blockers(session, round_)
    assert blockers and "3 held votes are not decided yet" in blockers[0]
    assert world.url in blockers[0]
    with pytest.raises(ValidationFailed):
        certify_round(session=session, round_=round_, now=CLOSED)
    clock.at = CLOSED
    log_in(client, world.owner)
    console = client.get("/brands/crispy/campaigns/flavour/results")
    assert console.status_code == 200
    assert "3 held votes are not decided yet" in console.text
    assert f'href="{world.url}"' in console.text
    ids = [u.id or 0 for u in (*world.attacked.honest[:2], world.attacked.ring[3])]
    held.decide_held(
        session=session,
        round_id=world.round_id,
        voter_ids=ids[:2],
        action="count",
        actor_id=world.owner.id or 0,
        reason="",
        now=CLOSED,
    )
    held.decide_held(
        session=session,
        round_id=world.round_id,
        voter_ids=ids[2:],
        action="void",
        actor_id=world.owner.id or 0,
        reason="ring",
        now=CLOSED,
    )
    session.rollback()
    assert not any("held vote" in b for b in certification_blockers(session, round_))
    certify_round(session=session, round_=round_, now=CLOSED)  # the scan's case, if any, is below

    # A certified round refuses any decision, with a clear message.
    late = world.attacked.honest[3]
    add_vote(session, world.attacked.contest, late, 4, RING_AT, status=VoteStatus.HELD)
    session.commit()
    refused = post(
        client, f"{world.url}/decide", {"action": f"count-{world.attacked.honest[3].id}"}
    )
    assert refused.status_code == 409  # type: ignore[attr-defined]
    assert "The results of this round are certified" in refused.text  # type: ignore[attr-defined]
    assert status_of(session, world, world.attacked.honest[3], 4) == "held"
