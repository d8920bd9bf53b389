"""The jury's ranking: candidates by weighted average score (0 to 10), equal averages by
earlier submission; and, once the scoring is closed, the frozen ranking."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, col, select

from cocreate.campaigns.models import Stage
from cocreate.ideas.models import Idea
from cocreate.jury.models import JuryCriterion, JuryOutcome, JuryScore
from cocreate.results.rounds import submission_order


def _id(value: int | None) -> int:
    assert value is not None, "flushed rows have ids"
    return value


@dataclass(frozen=True)
class JuryStanding:
    idea_id: int
    title: str
    position: int
    average: float  # weighted average score, 0 to 10
    scores: int


def jury_standings(
    *, session: Session, stage: Stage, idea_ids: Sequence[int], criteria: Sequence[JuryCriterion]
) -> list[JuryStanding]:
    """Candidates by weighted average score; equal averages by earlier submission."""
    weights = {_id(c.id): c.weight for c in criteria}
    means: dict[int, dict[int, float]] = {}
    counts: dict[int, int] = {}
    for idea_id, criterion_id, mean, n in session.exec(
        select(
            JuryScore.idea_id,
            JuryScore.criterion_id,
            func.avg(JuryScore.score),
            func.count(),
        )
        .where(JuryScore.stage_id == stage.id)
        .group_by(col(JuryScore.idea_id), col(JuryScore.criterion_id))
    ).all():
        if criterion_id in weights:
            means.setdefault(idea_id, {})[criterion_id] = float(mean)
            counts[idea_id] = counts.get(idea_id, 0) + int(n)
    averages = {i: weighted_average(means.get(i, {}), weights) for i in idea_ids}
    order = submission_order(session=session, campaign_id=stage.campaign_id)
    ordered = sorted(idea_ids, key=lambda i: (-round(averages[i], 6), order.get(i, (0.0, i))))
    titles = (
        dict(session.exec(select(Idea.id, Idea.title).where(col(Idea.id).in_(idea_ids))).all())
        if idea_ids
        else {}
    )
    return [
        JuryStanding(i, titles.get(i, ""), n, averages[i], counts.get(i, 0))
        for n, i in enumerate(ordered, start=1)
    ]


def weighted_average(means: Mapping[int, float], weights: Mapping[int, int]) -> float:
    """Sum of weight x mean over the scored criteria, divided by the sum of their weights."""
    scored = [c for c in means if c in weights]
    total = sum(weights[c] for c in scored)
    if total == 0:
        return 0.0
    return sum(weights[c] * means[c] for c in scored) / total


def outcomes_of(*, session: Session, stage: Stage) -> list[tuple[JuryOutcome, str]]:
    rows = session.exec(
        select(JuryOutcome, Idea.title)
        .join(Idea, col(Idea.id) == JuryOutcome.idea_id)
        .where(JuryOutcome.stage_id == stage.id)
        .order_by(col(JuryOutcome.position))
    ).all()
    return [(o, t) for o, t in rows]
