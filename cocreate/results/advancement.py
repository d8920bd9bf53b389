"""What goes on from each selecting stage: a certified round's ideas that advanced, a jury
stage's picks (`hooks.jury_picks`), the next round's entrants, and the campaign's winners."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from cocreate.campaigns.models import Stage, StageKind
from cocreate.ideas.models import Idea, IdeaStatus
from cocreate.results import hooks
from cocreate.results.models import RoundResult
from cocreate.results.rounds import decisive_stages, dialect_insert
from cocreate.voting.models import Round, RoundEntrant


def _id(value: int | None) -> int:
    assert value is not None, "flushed rows have ids"
    return value


def carry_forward(
    *, session: Session, stage: Stage, idea_ids: Sequence[int], now: datetime
) -> None:
    """Ideas that go on from `stage` enter the next voting round (a jury stage in between
    reads them itself; after the last selecting stage they are the winners)."""
    if not idea_ids:
        return
    later = [
        s
        for s in decisive_stages(session=session, campaign_id=stage.campaign_id)
        if s.position > stage.position
    ]
    if not later or later[0].kind != StageKind.VOTING:
        return
    target = later[0]
    session.execute(
        dialect_insert(session)(Round)
        .values(stage_id=target.id, campaign_id=target.campaign_id)
        .on_conflict_do_nothing(index_elements=["stage_id"])
    )
    round_id = session.exec(select(Round.id).where(Round.stage_id == target.id)).one()
    session.execute(
        dialect_insert(session)(RoundEntrant)
        .values([{"round_id": round_id, "idea_id": i, "advanced_at": now} for i in idea_ids])
        .on_conflict_do_nothing(index_elements=["round_id", "idea_id"])
    )


@dataclass(frozen=True)
class StageOutcome:
    ready: bool  # the stage has decided (certified and nothing left undecided; or finalised)
    ideas: list[int]  # the ideas that go on, in order


def stage_outcome(*, session: Session, stage: Stage) -> StageOutcome:
    if stage.kind == StageKind.JURY:
        picked = hooks.jury_picks(session=session, stage=stage)
        return StageOutcome(False, []) if picked is None else StageOutcome(True, picked)
    round_ = session.exec(select(Round).where(Round.stage_id == stage.id)).first()
    if round_ is None or round_.certified_at is None:
        return StageOutcome(False, [])
    rows = session.exec(
        select(RoundResult.idea_id, RoundResult.advanced)
        .where(RoundResult.round_id == round_.id, col(RoundResult.advanced).is_not(False))
        .order_by(col(RoundResult.position))
    ).all()
    ready = all(advanced is not None for _, advanced in rows)
    return StageOutcome(ready, [idea for idea, advanced in rows if advanced])


def stage_inputs(*, session: Session, stage: Stage) -> StageOutcome:
    """The ideas a stage starts with: what the previous selecting stage let through, or
    every approved idea when none comes before it."""
    earlier = [
        s
        for s in decisive_stages(session=session, campaign_id=stage.campaign_id)
        if s.position < stage.position
    ]
    if not earlier:
        ideas = session.exec(
            select(Idea.id)
            .where(Idea.campaign_id == stage.campaign_id, Idea.status == IdeaStatus.APPROVED)
            .order_by(col(Idea.id))
        ).all()
        return StageOutcome(True, [_id(i) for i in ideas])
    return stage_outcome(session=session, stage=earlier[-1])


@dataclass(frozen=True)
class WinnerRow:
    idea_id: int
    title: str
    place: int


@dataclass(frozen=True)
class Winners:
    ready: bool
    stage: Stage | None
    ideas: list[WinnerRow]
    announce_at: datetime | None = None  # not public before the announcement stage opens


def winners(*, session: Session, campaign_id: int) -> Winners:
    """The ideas that go on from the campaign's last selecting stage, once it has decided."""
    decisive = decisive_stages(session=session, campaign_id=campaign_id)
    if not decisive:
        return Winners(False, None, [])
    last = decisive[-1]
    outcome = stage_outcome(session=session, stage=last)
    if not outcome.ready:
        return Winners(False, last, [])
    titles = _titles(session, outcome.ideas)
    rows = [WinnerRow(i, titles.get(i, ""), n) for n, i in enumerate(outcome.ideas, start=1)]
    return Winners(True, last, rows)


def public_winners(*, session: Session, campaign_id: int, now: datetime) -> Winners:
    """The winners as the public may see them: once decided, and, when the campaign has a
    "winners announced" stage, not before that stage opens (the brand announces them)."""
    announcement = session.exec(
        select(Stage)
        .where(Stage.campaign_id == campaign_id, Stage.kind == StageKind.ANNOUNCEMENT)
        .order_by(col(Stage.position))
    ).first()
    if announcement is not None and announcement.opens_at > now:
        return Winners(False, None, [], announce_at=announcement.opens_at)
    return winners(session=session, campaign_id=campaign_id)


def _titles(session: Session, idea_ids: Sequence[int]) -> dict[int, str]:
    if not idea_ids:
        return {}
    rows = session.exec(select(Idea.id, Idea.title).where(col(Idea.id).in_(idea_ids))).all()
    return {_id(i): t for i, t in rows}
