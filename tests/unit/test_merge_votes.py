"""Merging a duplicate moves its votes to the idea it joined; undoing the merge moves them back.

Against a real database (both backends): the live tally must equal a recount of the vote
log after the merge and after the undo, and certified rounds never change.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from cocreate.accounts.models import User
from cocreate.brands.models import Brand, Membership, Role
from cocreate.campaigns.models import Campaign, CampaignStatus, Stage, StageKind
from cocreate.clock import FrozenClock
from cocreate.ideas.models import Idea, IdeaStatus
from cocreate.moderation.decisions.case import Decided
from cocreate.moderation.decisions.decide import decide
from cocreate.moderation.decisions.undo import undo
from cocreate.moderation.models import Action, Report
from cocreate.moderation.rules import Refused
from cocreate.voting.methods import Method
from cocreate.voting.models import (
    Ballot,
    IdeaTally,
    Round,
    RoundEntrant,
    Vote,
    VoteStatus,
)
from cocreate.voting.service import Outcome, Signals, cast_vote, live_tally, recount


class World:
    def __init__(
        self, session: Session, clock: FrozenClock, moderator: User, *, method: Method
    ) -> None:
        now = clock.now()
        self.clock = clock
        self.brand = Brand(name="Crispy", slug="crispy")
        session.add(self.brand)
        session.flush()
        session.add(Membership(brand_id=self.brand.id, user_id=moderator.id, role=Role.MODERATOR))
        self.moderator = moderator
        self.campaign = Campaign(
            brand_id=self.brand.id,
            slug="flavour",
            title="Flavour",
            status=CampaignStatus.PUBLISHED,
            timezone="Europe/Paris",
        )
        session.add(self.campaign)
        session.flush()
        stages = [
            Stage(
                campaign_id=self.campaign.id,
                position=0,
                kind=StageKind.SUBMISSION,
                opens_at=now - timedelta(days=30),
                closes_at=now - timedelta(days=20),
            ),
            Stage(  # an earlier round, certified: its results are final
                campaign_id=self.campaign.id,
                position=1,
                kind=StageKind.VOTING,
                opens_at=now - timedelta(days=19),
                closes_at=now - timedelta(days=10),
            ),
            Stage(
                campaign_id=self.campaign.id,
                position=2,
                kind=StageKind.VOTING,
                opens_at=now - timedelta(days=1),
                closes_at=now + timedelta(days=10),
            ),
        ]
        session.add_all(stages)
        session.flush()
        self.stage = stages[2]
        self.certified = Round(
            stage_id=stages[1].id,
            campaign_id=self.campaign.id,
            certified_at=now - timedelta(days=9),
        )
        self.round = Round(
            stage_id=stages[2].id,
            campaign_id=self.campaign.id,
            method=method,
            max_votes=3,
            points_budget=10 if method == Method.POINTS else 0,
        )
        session.add_all([self.certified, self.round])
        author = User(email="dup@example.com", display_name="Dup Author", created_at=now)
        session.add(author)
        session.flush()
        self.duplicate, self.target, self.other = (
            Idea(
                campaign_id=self.campaign.id,
                author_id=author.id if n == 0 else moderator.id,
                title=title,
                status=IdeaStatus.APPROVED,
                submitted_at=now - timedelta(days=25),
            )
            for n, title in enumerate(["Salt and vinegar", "Salt & vinegar", "Paprika"])
        )
        session.add_all([self.duplicate, self.target, self.other])
        session.flush()
        # The second round takes the ideas the first one let through: all three.
        for idea in (self.duplicate, self.target, self.other):
            session.add(RoundEntrant(round_id=self.round.id, idea_id=idea.id))
        # An approved idea comes back to the moderators through a report ("a duplicate").
        session.add(
            Report(idea_id=self.duplicate.id, reporter_id=moderator.id, reason="other", note="dup")
        )
        session.commit()

    def cast(
        self, session: Session, voter: User, idea: Idea, weight: int = 1, **kw: object
    ) -> None:
        result = cast_vote(
            session=session,
            round_=self.round,
            campaign=self.campaign,
            stage=self.stage,
            voter=voter,
            idea_id=idea.id or 0,
            now=self.clock.now(),
            weight=weight,
            **kw,  # type: ignore[arg-type]
        )
        assert result.outcome in (Outcome.COUNTED, Outcome.HELD), result

    def merge(self, session: Session) -> Decided:
        return decide(
            session=session,
            brand=self.brand,
            idea_id=self.duplicate.id or 0,
            actor=self.moderator,
            action=Action.MERGE,
            merge_into_id=self.target.id,
            clock=self.clock,
        )

    def undo(self, session: Session, decision_id: int) -> Decided:
        return undo(
            session=session,
            brand=self.brand,
            decision_id=decision_id,
            actor=self.moderator,
            clock=self.clock,
        )


def _live_equals_recount(session: Session, round_id: int) -> dict[int, tuple[int, int]]:
    session.rollback()
    live = live_tally(session=session, round_id=round_id)
    assert live == recount(session=session, round_id=round_id)
    return live


def _ballot(session: Session, round_: Round, voter: User) -> tuple[int, int]:
    session.rollback()
    ballot = session.exec(
        select(Ballot).where(Ballot.round_id == round_.id, Ballot.voter_id == voter.id)
    ).one()
    return ballot.votes_left, ballot.points_left


def _live_votes(session: Session, voter: User, round_: Round) -> list[int]:
    session.rollback()
    return sorted(
        v.idea_id
        for v in session.exec(
            select(Vote).where(
                Vote.voter_id == voter.id,
                Vote.round_id == round_.id,
                col(Vote.withdrawn_at).is_(None),
            )
        ).all()
    )


@pytest.fixture
def voters(make_user: Callable[..., User]) -> list[User]:
    return [make_user() for _ in range(4)]


def test_merge_moves_votes_refunds_double_backers_and_undo_restores(
    session: Session, clock: FrozenClock, make_user: Callable[..., User], voters: list[User]
) -> None:
    world = World(session, clock, make_user(), method=Method.APPROVAL)
    only_dup, both, only_target, held = voters
    d, t = world.duplicate, world.target
    world.cast(session, only_dup, d)
    world.cast(session, both, d)
    world.cast(session, both, t)
    world.cast(session, only_target, t)
    world.cast(session, held, d, signals=Signals(hold=True))
    # The certified round counted two votes for the duplicate; they stay where they are.
    for voter in (only_dup, both):
        session.add(Vote(round_id=world.certified.id, voter_id=voter.id, idea_id=d.id))
    session.add(IdeaTally(round_id=world.certified.id or 0, idea_id=d.id or 0, votes=2, points=2))
    session.commit()
    before = _live_equals_recount(session, world.round.id or 0)
    assert before == {d.id: (2, 2), t.id: (2, 2)}
    assert _ballot(session, world.round, both) == (1, 0)

    merged = world.merge(session)

    after = _live_equals_recount(session, world.round.id or 0)
    # only_dup's vote moved; both's second vote for the same idea was withdrawn.
    assert after == {t.id: (3, 3)}
    assert _live_votes(session, both, world.round) == [t.id]
    assert _ballot(session, world.round, both) == (2, 0), "the withdrawn vote is refunded"
    assert _live_votes(session, only_dup, world.round) == [t.id]
    assert _live_votes(session, only_dup, world.certified) == [d.id]  # certified: unchanged
    held_vote = session.exec(
        select(Vote).where(Vote.voter_id == held.id, Vote.round_id == world.round.id)
    ).one()
    assert (held_vote.idea_id, held_vote.status) == (t.id, VoteStatus.HELD)
    assert _live_equals_recount(session, world.certified.id or 0) == {d.id: (2, 2)}
    effects = merged.decision.effects["votes"]
    assert len(effects["moved"]) == 2 and len(effects["withdrawn"]) == 1

    world.undo(session, merged.decision.id or 0)

    assert _live_equals_recount(session, world.round.id or 0) == before
    assert _live_votes(session, both, world.round) == sorted([d.id, t.id])
    assert _ballot(session, world.round, both) == (1, 0)
    held_vote = session.exec(
        select(Vote).where(Vote.voter_id == held.id, Vote.round_id == world.round.id)
    ).one()
    assert held_vote.idea_id == d.id
    assert _live_equals_recount(session, world.certified.id or 0) == {d.id: (2, 2)}


def test_points_refund_and_a_spent_refund_is_not_taken_back(
    session: Session, clock: FrozenClock, make_user: Callable[..., User], voters: list[User]
) -> None:
    world = World(session, clock, make_user(), method=Method.POINTS)
    voter = voters[0]
    world.cast(session, voter, world.duplicate, weight=4)
    world.cast(session, voter, world.target, weight=5)
    assert _ballot(session, world.round, voter) == (1, 1)

    merged = world.merge(session)
    assert _ballot(session, world.round, voter) == (2, 5), "one vote and its 4 points back"
    assert _live_equals_recount(session, world.round.id or 0) == {world.target.id: (1, 5)}
    # The voter spends the refund on another idea: that choice stands after the undo.
    world.cast(session, voter, world.other, weight=5)

    world.undo(session, merged.decision.id or 0)
    session.rollback()
    assert _live_votes(session, voter, world.round) == sorted([world.target.id, world.other.id])
    assert _ballot(session, world.round, voter) == (1, 0)
    assert _live_equals_recount(session, world.round.id or 0) == {
        world.target.id: (1, 5),
        world.other.id: (1, 5),
    }


def test_target_takes_the_duplicates_place_in_a_later_round_until_undone(
    session: Session, clock: FrozenClock, make_user: Callable[..., User]
) -> None:
    world = World(session, clock, make_user(), method=Method.APPROVAL)
    session.exec(  # type: ignore[call-overload]
        RoundEntrant.__table__.delete().where(  # type: ignore[attr-defined]
            RoundEntrant.idea_id == world.target.id
        )
    )
    session.commit()
    merged = world.merge(session)
    session.rollback()
    assert session.get(RoundEntrant, (world.round.id, world.target.id)) is not None
    world.undo(session, merged.decision.id or 0)
    session.rollback()
    assert session.get(RoundEntrant, (world.round.id, world.target.id)) is None


def test_merge_racing_votes_for_the_target_keeps_ballots_and_tallies_exact(
    engine: Engine, session: Session, clock: FrozenClock, make_user: Callable[..., User]
) -> None:
    """Voters who backed the duplicate vote for the target while the merge runs. Whatever
    the interleaving, each ends with one live vote (on the target), a ballot that paid for
    exactly its live votes, and tallies equal to a recount."""
    world = World(session, clock, make_user(), method=Method.APPROVAL)
    crowd = [make_user() for _ in range(20)]
    for voter in crowd:
        world.cast(session, voter, world.duplicate)

    def vote(voter: User) -> None:
        with Session(engine, expire_on_commit=False) as s:
            cast_vote(
                session=s,
                round_=world.round,
                campaign=world.campaign,
                stage=world.stage,
                voter=voter,
                idea_id=world.target.id or 0,
                now=clock.now(),
            )

    def merge() -> int:
        for attempt in range(50):
            with Session(engine, expire_on_commit=False) as s:
                try:
                    world.merge(s)
                except Refused as exc:
                    assert "Votes changed" in exc.message, exc.message
                    continue
                return attempt
        raise AssertionError("the merge never got through")

    with ThreadPoolExecutor(max_workers=8) as pool:
        merging = pool.submit(merge)
        list(pool.map(vote, crowd))
        merging.result()
    for voter in crowd:
        assert _live_votes(session, voter, world.round) == [world.target.id]
        assert _ballot(session, world.round, voter) == (2, 0), "paid for one live vote"
    assert _live_equals_recount(session, world.round.id or 0) == {world.target.id: (20, 20)}
