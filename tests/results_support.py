"""A campaign with voting rounds (and optionally a jury stage), and votes written to its log.

Votes are either cast through the real `cast_vote` (when the rules matter) or written
straight to the log with `write_votes` (hand-worked cases, ranked ballots, tampering); the
per-idea tallies are then rebuilt from the log, as the vote path would have kept them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, insert
from sqlmodel import Session

from cocreate.accounts.models import User
from cocreate.brands.models import Brand, Membership, Role
from cocreate.campaigns.models import Campaign, CampaignStatus, Stage, StageKind
from cocreate.ideas.models import Idea, IdeaStatus
from cocreate.voting.methods import Method
from cocreate.voting.models import (
    Advancement,
    IdeaTally,
    Round,
    TieBreak,
    Visibility,
    Vote,
    VoteStatus,
)
from cocreate.voting.service import recount
from tests.conftest import _PASSWORD_HASH

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@dataclass
class Contest:
    brand: Brand
    campaign: Campaign
    author: User
    stages: list[Stage]
    rounds: list[Round]
    ideas: list[Idea]
    voters: list[User] = field(default_factory=list)

    @property
    def round(self) -> Round:
        return self.rounds[0]

    @property
    def stage(self) -> Stage:
        return next(s for s in self.stages if s.id == self.round.stage_id)

    def stage_of(self, round_: Round) -> Stage:
        return next(s for s in self.stages if s.id == round_.stage_id)

    @property
    def jury_stage(self) -> Stage:
        return next(s for s in self.stages if s.kind == StageKind.JURY)


def make_contest(
    session: Session,
    *,
    slug: str = "flavour",
    brand_slug: str = "crispy",
    ideas: int = 5,
    voters: int = 0,
    method: Method = Method.APPROVAL,
    max_votes: int = 3,
    points: int = 0,
    advancement: Advancement = Advancement.TOP_N,
    advancement_value: int = 2,
    tie_break: TieBreak = TieBreak.EARLIER_SUBMISSION,
    visibility: Visibility = Visibility.LIVE,
    later: Sequence[StageKind] = (StageKind.VOTING,),
    brand: Brand | None = None,
) -> Contest:
    """Submission (closed), round 1 (open from T0 for 10 days), then the `later` stages,
    10 days each, then the announcement."""
    if brand is None:
        brand = Brand(name=brand_slug.title(), slug=brand_slug)
        session.add(brand)
        session.flush()
    campaign = Campaign(
        brand_id=brand.id,  # type: ignore[arg-type]
        slug=slug,
        title=slug.title(),
        status=CampaignStatus.PUBLISHED,
    )
    session.add(campaign)
    author = User(email=f"author-{slug}@example.com", display_name="Author", created_at=T0)
    session.add(author)
    session.flush()
    kinds = [StageKind.SUBMISSION, StageKind.VOTING, *later, StageKind.ANNOUNCEMENT]
    stages = []
    start = T0 - 10 * DAY
    for position, kind in enumerate(kinds):
        stages.append(
            Stage(
                campaign_id=campaign.id,  # type: ignore[arg-type]
                position=position,
                kind=kind,
                title=f"Stage {position}",
                opens_at=start,
                closes_at=start + 10 * DAY,
            )
        )
        start += 10 * DAY
    session.add_all(stages)
    session.flush()
    rounds = [
        Round(
            stage_id=s.id,  # type: ignore[arg-type]
            campaign_id=campaign.id,  # type: ignore[arg-type]
            method=method,
            max_votes=max_votes,
            points_budget=points,
            advancement=advancement,
            advancement_value=advancement_value,
            tie_break=tie_break,
            visibility=visibility,
        )
        for s in stages
        if s.kind == StageKind.VOTING
    ]
    session.add_all(rounds)
    made = [
        Idea(
            campaign_id=campaign.id,  # type: ignore[arg-type]
            author_id=author.id,  # type: ignore[arg-type]
            title=f"Idea {chr(65 + n)}",
            description=f"The **{chr(65 + n)}** flavour.",
            status=IdeaStatus.APPROVED,
            submitted_at=T0 - 15 * DAY + n * timedelta(hours=1),  # A first, then B, ...
        )
        for n in range(ideas)
    ]
    session.add_all(made)
    people = [
        User(
            email=f"voter{n}-{slug}@example.com",
            display_name=f"Voter {n}",
            created_at=T0 - 30 * DAY,
            email_verified_at=T0 - 30 * DAY,
        )
        for n in range(voters)
    ]
    session.add_all(people)
    session.commit()
    return Contest(brand, campaign, author, stages, rounds, made, people)


def write_votes(
    session: Session,
    round_: Round,
    votes: Sequence[tuple[User, Idea, int]],
    *,
    status: VoteStatus = VoteStatus.COUNTED,
    period: int = 0,
    at: datetime = T0 + DAY,
    withdrawn: bool = False,
) -> None:
    """Votes (voter, idea, weight) straight into the log; the tallies follow the log."""
    rows = [
        {
            "round_id": round_.id,
            "voter_id": voter.id,
            "idea_id": idea.id,
            "period": period,
            "weight": weight,
            "status": status.value,
            "cast_at": at + n * timedelta(seconds=1),
            "withdrawn_at": at + DAY if withdrawn else None,
            "risk_score": 0.0,
            "risk_signals": {},
        }
        for n, (voter, idea, weight) in enumerate(votes)
    ]
    session.execute(insert(Vote), rows)
    rebuild_tallies(session, round_)


def rebuild_tallies(session: Session, round_: Round) -> None:
    session.execute(delete(IdeaTally).where(IdeaTally.round_id == round_.id))  # type: ignore[arg-type]
    counts = recount(session=session, round_id=round_.id)  # type: ignore[arg-type]
    if counts:
        session.execute(
            insert(IdeaTally),
            [
                {"round_id": round_.id, "idea_id": idea, "votes": v, "points": p}
                for idea, (v, p) in counts.items()
            ],
        )
    session.commit()


def ranked_ballot(voter: User, ideas: Sequence[Idea]) -> list[tuple[User, Idea, int]]:
    """One ranked ballot: the ideas in order of preference (weight = rank, 1 first)."""
    return [(voter, idea, rank) for rank, idea in enumerate(ideas, start=1)]


def add_juror(session: Session, brand: Brand, email: str) -> User:
    juror = User(
        email=email,
        display_name=email.split("@")[0],
        password_hash=_PASSWORD_HASH,
        email_verified_at=T0 - 30 * DAY,
        created_at=T0 - 30 * DAY,
    )
    session.add(juror)
    session.flush()
    session.add(Membership(brand_id=brand.id, user_id=juror.id, role=Role.JURY))  # type: ignore[arg-type]
    session.commit()
    return juror


def decide_held_votes(session: Session, contest: Contest, action: str = "void") -> int:
    """Count or void every held vote of the round, as a moderator would before certifying
    (undecided held votes block certification)."""
    from sqlmodel import col, select

    from cocreate.fraud.held import decide_held
    from cocreate.voting.models import Vote, VoteStatus

    session.rollback()
    voters = session.exec(
        select(Vote.voter_id).where(
            Vote.round_id == contest.round.id,
            Vote.status == VoteStatus.HELD.value,
            col(Vote.withdrawn_at).is_(None),
        )
    ).all()
    if not voters:
        return 0
    return decide_held(
        session=session,
        round_id=contest.round.id or 0,
        voter_ids=sorted(set(voters)),
        action=action,
        actor_id=contest.author.id or 0,
        reason="reviewed",
        now=T0,
    ).votes_changed
