"""Casting votes against a real database (both backends): rules, idempotency, races."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from cocreate.accounts.models import User
from cocreate.brands.models import Brand
from cocreate.campaigns.models import Campaign, CampaignStatus, Stage, StageKind
from cocreate.clock import FrozenClock
from cocreate.ideas.models import Idea, IdeaStatus
from cocreate.voting.methods import Method
from cocreate.voting.models import Frequency, Round, Vote
from cocreate.voting.service import (
    Outcome,
    Signals,
    cast_vote,
    live_tally,
    recount,
    withdraw_vote,
)
from cocreate.voting.store.statements import statements


class World:
    def __init__(
        self,
        session: Session,
        clock: FrozenClock,
        *,
        ideas: int = 5,
        method: Method = Method.APPROVAL,
        max_votes: int = 3,
        points: int = 0,
        frequency: Frequency = Frequency.ONCE,
    ) -> None:
        now = clock.now()
        brand = Brand(name="Crispy", slug="crispy")
        session.add(brand)
        session.flush()
        self.campaign = Campaign(
            brand_id=brand.id,
            slug="flavour",
            title="Flavour",
            status=CampaignStatus.PUBLISHED,
            timezone="Europe/Paris",
        )
        session.add(self.campaign)
        session.flush()
        session.add(
            Stage(
                campaign_id=self.campaign.id,
                position=0,
                kind=StageKind.SUBMISSION,
                opens_at=now - timedelta(days=20),
                closes_at=now - timedelta(days=10),
            )
        )
        self.stage = Stage(
            campaign_id=self.campaign.id,
            position=1,
            kind=StageKind.VOTING,
            opens_at=now - timedelta(days=1),
            closes_at=now + timedelta(days=10),
        )
        session.add(self.stage)
        author = User(email="author@example.com", display_name="Author", created_at=now)
        session.add(author)
        session.flush()
        self.round = Round(
            stage_id=self.stage.id,
            campaign_id=self.campaign.id,
            method=method,
            max_votes=max_votes,
            points_budget=points,
            frequency=frequency,
        )
        session.add(self.round)
        self.ideas = [
            Idea(
                campaign_id=self.campaign.id,
                author_id=author.id,
                title=f"Idea {n}",
                status=IdeaStatus.APPROVED,
                submitted_at=now,
            )
            for n in range(ideas)
        ]
        session.add_all(self.ideas)
        session.commit()
        self.clock = clock

    def cast(self, session: Session, voter: User, idea: Idea, **kw: Any) -> Any:
        return cast_vote(
            session=session,
            round_=self.round,
            campaign=self.campaign,
            stage=self.stage,
            voter=voter,
            idea_id=idea.id,
            now=self.clock.now(),
            **kw,
        )

    def withdraw(self, session: Session, voter: User, idea: Idea) -> Any:
        return withdraw_vote(
            session=session,
            round_=self.round,
            campaign=self.campaign,
            stage=self.stage,
            voter=voter,
            idea_id=idea.id,
            now=self.clock.now(),
        )


@pytest.fixture
def world(session: Session, clock: FrozenClock) -> World:
    return World(session, clock)


def test_approval_allows_up_to_n_votes_one_per_idea(
    session: Session, world: World, make_user: Callable[..., User]
) -> None:
    voter = make_user()
    results = [world.cast(session, voter, idea) for idea in world.ideas[:3]]
    assert [r.outcome for r in results] == [Outcome.COUNTED] * 3
    assert [r.votes_left for r in results] == [2, 1, 0]
    assert world.cast(session, voter, world.ideas[3]).outcome == Outcome.NO_VOTES_LEFT
    assert live_tally(session=session, round_id=world.round.id) == {
        i.id: (1, 1) for i in world.ideas[:3]
    }


def test_the_same_vote_twice_is_idempotent(
    session: Session, world: World, make_user: Callable[..., User]
) -> None:
    voter = make_user()
    assert world.cast(session, voter, world.ideas[0]).outcome == Outcome.COUNTED
    again = world.cast(session, voter, world.ideas[0])
    assert again.outcome == Outcome.ALREADY and again.votes_left == 2
    assert session.exec(select(func.count()).select_from(Vote)).one() == 1


def test_unvote_gives_the_vote_back_and_keeps_the_row(
    session: Session, world: World, make_user: Callable[..., User]
) -> None:
    voter = make_user()
    world.cast(session, voter, world.ideas[0])
    result = world.withdraw(session, voter, world.ideas[0])
    assert result.outcome == Outcome.WITHDRAWN and result.votes_left == 3
    assert world.withdraw(session, voter, world.ideas[0]).outcome == Outcome.NOT_FOUND
    assert world.cast(session, voter, world.ideas[0]).outcome == Outcome.COUNTED
    assert session.exec(select(func.count()).select_from(Vote)).one() == 2  # history kept
    assert live_tally(session=session, round_id=world.round.id) == {world.ideas[0].id: (1, 1)}


def test_votes_outside_the_round_or_for_non_entrants_are_refused(
    session: Session, world: World, make_user: Callable[..., User], clock: FrozenClock
) -> None:
    voter = make_user()
    pending = Idea(
        campaign_id=world.campaign.id,
        author_id=voter.id,
        title="Pending",
        status=IdeaStatus.PENDING,
    )
    session.add(pending)
    session.commit()
    assert world.cast(session, voter, pending).outcome == Outcome.NOT_ENTRANT
    assert world.cast(session, make_user(verified=False), world.ideas[0]).reason == "unverified"
    clock.advance(days=11)
    assert world.cast(session, voter, world.ideas[0]).outcome == Outcome.CLOSED


def test_held_votes_spend_the_ballot_but_do_not_count(
    session: Session, world: World, make_user: Callable[..., User]
) -> None:
    result = world.cast(session, make_user(), world.ideas[0], signals=Signals(hold=True))
    assert result.outcome == Outcome.HELD and result.votes_left == 2
    assert live_tally(session=session, round_id=world.round.id) == {}
    assert session.exec(select(Vote.status)).one() == "held"


def test_daily_rounds_give_a_new_ballot_each_day_in_the_campaign_time_zone(
    session: Session, clock: FrozenClock, make_user: Callable[..., User]
) -> None:
    from datetime import UTC, datetime

    clock.at = datetime(2026, 6, 1, 21, 30, tzinfo=UTC)  # 23:30 in Paris
    world = World(session, clock, frequency=Frequency.DAILY, max_votes=1)
    voter = make_user()
    assert world.cast(session, voter, world.ideas[0]).outcome == Outcome.COUNTED
    assert world.cast(session, voter, world.ideas[1]).outcome == Outcome.NO_VOTES_LEFT
    clock.advance(minutes=45)  # 00:15 in Paris, still 22:15 UTC on June 1
    assert world.cast(session, voter, world.ideas[0]).outcome == Outcome.COUNTED
    assert world.cast(session, voter, world.ideas[0]).outcome == Outcome.ALREADY
    assert live_tally(session=session, round_id=world.round.id) == {world.ideas[0].id: (2, 2)}


def test_points_spend_a_budget(
    session: Session, clock: FrozenClock, make_user: Callable[..., User]
) -> None:
    world = World(session, clock, method=Method.POINTS, max_votes=5, points=10)
    voter = make_user()
    assert world.cast(session, voter, world.ideas[0], weight=7).points_left == 3
    assert world.cast(session, voter, world.ideas[1], weight=4).outcome == Outcome.NO_VOTES_LEFT
    assert world.cast(session, voter, world.ideas[1], weight=3).points_left == 0
    assert live_tally(session=session, round_id=world.round.id) == {
        world.ideas[0].id: (1, 7),
        world.ideas[1].id: (1, 3),
    }


def _bulk_voters(engine: Engine, n: int, clock: FrozenClock) -> list[User]:
    with engine.begin() as conn:
        conn.execute(
            insert(User),
            [
                {
                    "email": f"v{i}@example.com",
                    "display_name": f"V{i}",
                    "created_at": clock.now(),
                    "email_verified_at": clock.now(),
                    "is_admin": False,
                    "disabled": False,
                    "session_version": 0,
                }
                for i in range(n)
            ],
        )
    with Session(engine) as s:
        return list(s.exec(select(User).where(User.email.like("v%@example.com"))))  # type: ignore[union-attr]


def test_fifty_parallel_requests_from_one_voter_store_one_vote(
    engine: Engine, world: World, make_user: Callable[..., User]
) -> None:
    voter = make_user()

    def attempt(_: int) -> Outcome:
        with Session(engine, expire_on_commit=False) as s:
            return world.cast(s, voter, world.ideas[0]).outcome  # type: ignore[no-any-return]

    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(attempt, range(50)))
    assert outcomes.count(Outcome.COUNTED) == 1
    assert outcomes.count(Outcome.ALREADY) == 49
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(Vote)).one() == 1
        assert live_tally(session=s, round_id=world.round.id) == {world.ideas[0].id: (1, 1)}


def test_a_thousand_voters_in_parallel_lose_no_vote(
    engine: Engine, world: World, clock: FrozenClock
) -> None:
    voters = _bulk_voters(engine, 1000, clock)

    def vote(voter: User) -> Outcome:
        with Session(engine, expire_on_commit=False) as s:
            idea = world.ideas[voter.id % len(world.ideas)]  # type: ignore[operator]
            return world.cast(s, voter, idea).outcome  # type: ignore[no-any-return]

    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(vote, voters))
    assert outcomes.count(Outcome.COUNTED) == 1000
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(Vote)).one() == 1000
        assert recount(session=s, round_id=world.round.id) == live_tally(
            session=s, round_id=world.round.id
        )
        assert sum(v for v, _ in live_tally(session=s, round_id=world.round.id).values()) == 1000


operations = st.lists(
    st.tuples(st.sampled_from(["cast", "withdraw"]), st.integers(0, 3), st.integers(0, 4)),
    max_size=40,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=operations)
def test_recount_from_the_log_always_equals_the_live_counts(
    engine: Engine, clock: FrozenClock, ops: list[tuple[str, int, int]]
) -> None:
    from tests.conftest import empty_tables

    empty_tables(engine)
    with Session(engine, expire_on_commit=False) as session:
        world = World(session, clock)
        voters = [
            User(
                email=f"p{i}@example.com",
                display_name="P",
                created_at=clock.now(),
                email_verified_at=clock.now(),
            )
            for i in range(4)
        ]
        session.add_all(voters)
        session.commit()
        for action, voter, idea in ops:
            if action == "cast":
                world.cast(session, voters[voter], world.ideas[idea])
            else:
                world.withdraw(session, voters[voter], world.ideas[idea])
        assert recount(session=session, round_id=world.round.id) == live_tally(
            session=session, round_id=world.round.id
        )


def _index_scans(plan: dict[str, Any]) -> list[tuple[str, str]]:
    """(table, index) of every index scan in an EXPLAIN (FORMAT JSON) plan."""
    found = []
    if "Index Name" in plan:
        found.append((plan["Relation Name"], plan["Index Name"]))
    for child in plan.get("Plans", []):
        found.extend(_index_scans(child))
    return found


def test_the_vote_statements_find_their_idea_by_its_key(
    engine: Engine, session: Session, clock: FrozenClock
) -> None:
    """On PostgreSQL, the vote statement (`cast_all`) and the entrant check read the
    idea through its primary key even in tables never analysed (a campaign just loaded,
    autovacuum not yet run). Without statistics PostgreSQL priced the (status, submitted_at,
    id) index as low as the key and read every approved idea's entry on every vote (from
    1,000 ideas here)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's planner finds a row by its integer key first")
    world = World(session, clock, ideas=1000)
    voter = User(email="voter@example.com", display_name="Voter", created_at=clock.now())
    session.add(voter)
    session.commit()
    params = {
        "idea_id": world.ideas[150].id,
        "campaign_id": world.campaign.id,
        "round_id": world.round.id,
        "voter_id": voter.id,
        "first_round": True,
        "period": 0,
        "weight": 1,
        "status": "counted",
        "cast_at": clock.now(),
        "ip_hash": None,
        "ip_prefix_hash": None,
        "device_id": None,
        "user_agent": None,
        "risk_score": 0,
        "risk_signals": "{}",  # as its JSON type sends it
        "status_reason": None,
        "votes_left": 2,
        "points_left": 0,
        "spent": 0,
        "counted": True,
    }
    sql = statements(engine.dialect.name)
    connection = session.connection()
    for statement, first_round in (
        (sql.cast_all, True),
        (sql.entrant_title, True),
        (sql.entrant_title, False),
    ):
        compiled = statement.compile(dialect=engine.dialect)
        values = compiled.construct_params({**params, "first_round": first_round})
        row = connection.exec_driver_sql("EXPLAIN (FORMAT JSON) " + compiled.string, values).first()
        assert row is not None
        scans = _index_scans(row[0][0]["Plan"])
        assert [index for table, index in scans if table == "ideas"] == ["ideas_pkey"], scans
