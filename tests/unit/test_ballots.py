"""The voter's side of a round against a real database: the open round, ranked ballots, and
a vote that follows a page's reads."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from cocreate.accounts.models import User
from cocreate.campaigns.models import Stage, StageKind
from cocreate.clock import FrozenClock
from cocreate.forms import ValidationFailed
from cocreate.voting.ballots import find_open_round, order_entrants
from cocreate.voting.methods.ranked_ballot import read_ranking, submit_ranking
from cocreate.voting.models import Round, RoundEntrant, Vote
from cocreate.voting.service import Outcome, cast_vote, live_tally, recount
from tests.voting_support import DAY, T0, make_voting_world


@pytest.fixture
def owner(make_user: Callable[..., User]) -> User:
    return make_user("owner@example.com")


def test_read_ranking_keeps_the_order_skips_blanks_and_refuses_repeats() -> None:
    assert read_ranking(["3", "", "1", "", ""], max_positions=5) == [3, 1]
    assert read_ranking(["3", "1", "2"], max_positions=2) == [3, 1]  # extra positions ignored
    with pytest.raises(ValidationFailed) as refused:
        read_ranking(["3", "1", "3", "3"], max_positions=4)
    assert set(refused.value.errors) == {"", "rank-4"}
    assert "already at position 1" in refused.value.errors["rank-4"]
    with pytest.raises(ValidationFailed):
        read_ranking(["1e3"], max_positions=3)


def test_the_open_round_is_found_with_its_place_in_the_campaign(
    session: Session, owner: User
) -> None:
    world = make_voting_world(session, owner)
    found = find_open_round(session=session, slug="flavours", now=T0)
    assert found is not None and found.open is not None
    assert found.open.round.id == world.round.id and found.open.first_round
    assert find_open_round(session=session, slug="nope", now=T0) is None
    closed = find_open_round(session=session, slug="flavours", now=T0 + 9 * DAY)
    assert closed is not None and closed.open is None
    # A second voting stage is not the first round: it takes the entrants of the first.
    second = Stage(
        campaign_id=world.campaign.id,  # type: ignore[arg-type]
        position=2,
        kind=StageKind.VOTING,
        opens_at=T0 + 9 * DAY,
        closes_at=T0 + 12 * DAY,
    )
    session.add(second)
    session.commit()
    later = find_open_round(session=session, slug="flavours", now=T0 + 10 * DAY)
    assert later is not None and later.open is not None
    assert later.open.stage.id == second.id and not later.open.first_round
    assert session.exec(select(Round).where(Round.stage_id == second.id)).one()  # made


def test_the_open_round_read_for_a_vote_counts_the_voters_mailbox_siblings(
    session: Session, owner: User, make_user: Callable[..., User]
) -> None:
    """The fraud screen's mailbox count, read with the round: other accounts of the voter's
    canonical mailbox with a live vote in this round (withdrawn votes and the voter's own
    do not count)."""
    world = make_voting_world(session, owner)
    voter = make_user("pat.smith@gmail.com")
    sibling = make_user("patsmith+two@googlemail.com")
    make_user("someone.else@gmail.com")

    def siblings(who: User) -> int | None:
        found = find_open_round(session=session, slug="flavours", now=T0, voter=who)
        assert found is not None and found.open is not None
        session.rollback()
        return found.open.mailbox_siblings

    def vote(who: User) -> None:
        found = find_open_round(session=session, slug="flavours", now=T0)
        assert found is not None and found.open is not None
        opened = found.open
        outcome = cast_vote(
            session=session,
            round_=opened.round,
            campaign=opened.campaign,
            stage=opened.stage,
            voter=who,
            idea_id=world.ideas[0].id,  # type: ignore[arg-type]
            now=T0,
        )
        assert outcome.outcome == Outcome.COUNTED

    assert siblings(voter) == 0
    vote(voter)
    assert siblings(voter) == 0  # one's own vote is no sibling's
    assert siblings(sibling) == 1
    # In another round of the campaign that vote is no sibling's.
    second = Stage(
        campaign_id=world.campaign.id,  # type: ignore[arg-type]
        position=2,
        kind=StageKind.VOTING,
        opens_at=T0 + 9 * DAY,
        closes_at=T0 + 12 * DAY,
    )
    session.add(second)
    session.commit()
    assert find_open_round(session=session, slug="flavours", now=T0 + 10 * DAY)  # makes its Round
    session.commit()
    later = find_open_round(session=session, slug="flavours", now=T0 + 10 * DAY, voter=sibling)
    assert later is not None and later.open is not None and later.open.stage.id == second.id
    assert later.open.mailbox_siblings == 0
    session.rollback()
    session.exec(update(Vote).values(withdrawn_at=T0))  # type: ignore[call-overload]
    session.commit()
    assert siblings(sibling) == 0
    nobox = make_user("plain@example.com")
    nobox.canonical_mailbox = None
    assert siblings(nobox) == 0
    found = find_open_round(session=session, slug="flavours", now=T0)
    assert found is not None and found.open is not None
    assert found.open.mailbox_siblings is None  # not asked: the screen would query


def test_order_shows_ranks_with_ties_and_each_voter_their_own_hidden_order(
    session: Session, owner: User
) -> None:
    world = make_voting_world(session, owner, visibility="ranks")
    apple, basil, cherry, dill = world.ideas
    tally = {basil.id: (2, 2), cherry.id: (2, 2), dill.id: (1, 1)}
    ordered = order_entrants(world.ideas, round_=world.round, tally=tally, seed="x")  # type: ignore[arg-type]
    assert [(i.title, r) for i, r in ordered] == [
        ("Idea Basil", 1),
        ("Idea Cherry", 1),
        ("Idea Dill", 3),
        ("Idea Apple", 4),
    ]
    world.round.visibility = "hidden"
    orders = {
        tuple(i.id for i, _ in order_entrants(world.ideas, round_=world.round, tally={}, seed=s))
        for s in ("a", "b", "c", "d", "e")
    }
    assert len(orders) > 1


def test_a_vote_after_the_pages_reads_still_writes_when_another_vote_came_first(
    engine: Engine, session: Session, owner: User, make_user: Callable[..., User]
) -> None:
    world = make_voting_world(session, owner)
    first_voter, second_voter = make_user(), make_user()
    with (
        Session(engine, expire_on_commit=False) as page,
        Session(engine, expire_on_commit=False) as other,
    ):
        found = find_open_round(session=page, slug="flavours", now=T0)  # reads: a snapshot
        assert found is not None and found.open is not None
        opened = found.open
        voter = page.get(User, first_voter.id)
        assert voter is not None

        def vote(s: Session, who: User) -> Any:
            return cast_vote(
                session=s,
                round_=opened.round,
                campaign=opened.campaign,
                stage=opened.stage,
                voter=who,
                idea_id=world.ideas[0].id,  # type: ignore[arg-type]
                now=T0,
            )

        assert vote(other, second_voter).outcome == Outcome.COUNTED  # commits meanwhile
        assert vote(page, voter).outcome == Outcome.COUNTED  # SQLite: no "database is locked"


def _ranked(session: Session, owner: User) -> Any:
    world = make_voting_world(session, owner, method="ranked", max_votes=3, visibility="hidden")
    found = find_open_round(session=session, slug="flavours", now=T0)
    assert found is not None and found.open is not None
    return world, found.open


def test_a_ranking_in_a_later_round_takes_only_its_entrants(
    session: Session, owner: User, make_user: Callable[..., User]
) -> None:
    world, opened = _ranked(session, owner)
    voter = make_user()
    apple, basil = world.ideas[:2]
    later = type(opened)(opened.campaign, opened.stage, opened.round, False)
    session.add(RoundEntrant(round_id=world.round.id, idea_id=apple.id))  # type: ignore[arg-type]
    session.commit()
    result = submit_ranking(
        session=session, open_round=later, voter=voter, idea_ids=[apple.id, basil.id], now=T0
    )
    assert result.outcome == Outcome.NOT_ENTRANT
    result = submit_ranking(
        session=session, open_round=later, voter=voter, idea_ids=[apple.id], now=T0
    )
    assert result.outcome == Outcome.COUNTED and result.votes_left == 2


def test_a_ranking_outside_the_round_or_too_long_is_refused(
    session: Session, owner: User, make_user: Callable[..., User], clock: FrozenClock
) -> None:
    world, opened = _ranked(session, owner)
    voter = make_user()
    ids = [i.id for i in world.ideas]
    with pytest.raises(ValidationFailed):
        submit_ranking(session=session, open_round=opened, voter=voter, idea_ids=ids, now=T0)
    with pytest.raises(ValidationFailed):
        submit_ranking(
            session=session, open_round=opened, voter=voter, idea_ids=[ids[0], ids[0]], now=T0
        )
    late = T0 + timedelta(days=30)
    result = submit_ranking(
        session=session, open_round=opened, voter=voter, idea_ids=ids[:2], now=late
    )
    assert result.outcome == Outcome.CLOSED
    assert session.exec(select(Vote)).all() == []


rankings = st.lists(
    st.tuples(st.integers(0, 2), st.lists(st.integers(0, 3), unique=True, max_size=3)),
    max_size=15,
)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=rankings)
def test_rankings_keep_the_live_tally_equal_to_a_recount(
    engine: Engine, clock: FrozenClock, steps: list[tuple[int, list[int]]]
) -> None:
    from tests.conftest import empty_tables

    empty_tables(engine)
    with Session(engine, expire_on_commit=False) as session:
        owner = User(email="o@example.com", display_name="O", created_at=T0)
        voters = [
            User(
                email=f"r{n}@example.com",
                display_name="R",
                created_at=T0 - DAY,
                email_verified_at=T0 - DAY,
            )
            for n in range(3)
        ]
        session.add_all([owner, *voters])
        session.commit()
        world, opened = _ranked(session, owner)
        for voter, picks in steps:
            ids = [world.ideas[p].id for p in picks]
            submit_ranking(
                session=session, open_round=opened, voter=voters[voter], idea_ids=ids, now=T0
            )
        assert recount(session=session, round_id=world.round.id) == live_tally(
            session=session, round_id=world.round.id
        )
        last: dict[int, list[int]] = {}
        for voter, picks in steps:
            last[voter] = [world.ideas[p].id for p in picks]
        live = session.exec(select(Vote).where(Vote.withdrawn_at == None)).all()  # noqa: E711
        assert sorted((v.voter_id, v.idea_id, v.weight) for v in live) == sorted(
            (voters[voter].id, idea, rank)
            for voter, ids in last.items()
            for rank, idea in enumerate(ids, start=1)
        )


def test_a_ranked_ballot_stores_weight_equal_to_rank_and_schulze_reads_it_so(
    session: Session, owner: User, make_user: Callable[..., User]
) -> None:
    """Weight = rank, 1 = first, in the vote log; the certified tally (Schulze over the log)
    reads a smaller weight as a preference. Three voters put Cherry first, two put Apple
    first with Cherry last: Cherry wins 3 to 2 against Apple and against Basil."""
    from cocreate.results.digest import read_vote_log

    world, opened = _ranked(session, owner)
    apple, basil, cherry = (i.id for i in world.ideas[:3])
    assert apple is not None and basil is not None and cherry is not None
    ballots = [[cherry, apple, basil]] * 3 + [[apple, basil, cherry]] * 2
    voters = [make_user() for _ in ballots]
    for voter, order in zip(voters, ballots, strict=True):
        result = submit_ranking(
            session=session, open_round=opened, voter=voter, idea_ids=order, now=T0
        )
        assert result.outcome == Outcome.COUNTED

    first = voters[0].id
    stored = session.exec(select(Vote.idea_id, Vote.weight).where(Vote.voter_id == first)).all()
    assert sorted(stored, key=lambda row: row[1]) == [(cherry, 1), (apple, 2), (basil, 3)]

    ids = [i.id for i in world.ideas if i.id is not None]
    tally = read_vote_log(session=session, round_=world.round, entrants=ids, key=b"k").tally
    assert [s.idea_id for s in tally.standings][:3] == [cherry, apple, basil]
    assert tally.standings[0].rank == 1 and tally.standings[1].rank == 2
