"""The funnel across a campaign's selecting stages: ideas in, ideas on (counts of ideas,
never of votes), on the results page and the results console."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, col, select

from cocreate.campaigns.models import StageKind
from cocreate.campaigns.timeline import stage_name
from cocreate.results.advancement import StageOutcome, stage_inputs, stage_outcome
from cocreate.results.models import RoundResult
from cocreate.results.rounds import campaign_rounds, count_entrants, decisive_stages


@dataclass(frozen=True)
class FunnelStep:
    name: str
    kind: str
    entrants: int | None
    advanced: int | None  # None until the stage has decided
    undecided: int


def funnel(*, session: Session, campaign_id: int) -> list[FunnelStep]:
    """Ideas in, ideas on, for every selecting stage (counts of ideas, never of votes)."""
    steps = []
    rounds = {
        info.stage.id: info for info in campaign_rounds(session=session, campaign_id=campaign_id)
    }
    first_round = next(iter(rounds.values())).round.id if rounds else None
    previous: StageOutcome | None = None  # what the stage before let through
    for stage in decisive_stages(session=session, campaign_id=campaign_id):
        name = stage_name(stage)
        outcome = stage_outcome(session=session, stage=stage)
        known = previous is None or previous.ready
        if stage.kind == StageKind.JURY:
            inputs = previous.ideas if previous is not None else None
            if inputs is None:  # no stage before: every approved idea
                inputs = stage_inputs(session=session, stage=stage).ideas
            steps.append(
                FunnelStep(
                    name,
                    stage.kind,
                    len(inputs) if known else None,
                    len(outcome.ideas) if outcome.ready else None,
                    0,
                )
            )
        elif (info := rounds.get(stage.id)) is None:
            steps.append(FunnelStep(name, stage.kind, None, None, 0))
        elif info.round.certified_at is None:
            entrants = (
                count_entrants(
                    session=session, round_=info.round, first=info.round.id == first_round
                )
                if known
                else None
            )
            steps.append(FunnelStep(name, stage.kind, entrants, None, 0))
        else:
            counts = dict(
                session.exec(
                    select(RoundResult.advanced, func.count())
                    .where(RoundResult.round_id == info.round.id)
                    .group_by(col(RoundResult.advanced))
                ).all()
            )
            entered = sum(int(n) for n in counts.values())
            steps.append(
                FunnelStep(
                    name, stage.kind, entered, int(counts.get(True, 0)), int(counts.get(None, 0))
                )
            )
        previous = outcome
    return steps
