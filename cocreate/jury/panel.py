"""A jury stage as it stands: its settings and criteria, its jurors, the ideas it scores and
how far each juror is. (The stage's rules are in the package's docstring.)"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, col, select

from cocreate.accounts.models import User
from cocreate.brands.models import Membership, Role
from cocreate.campaigns.models import Stage, StageKind
from cocreate.forms import ValidationFailed
from cocreate.ideas.models import Idea
from cocreate.jury.models import JuryCriterion, JuryPanel, JuryScore
from cocreate.results.advancement import StageOutcome, stage_inputs


def _id(value: int | None) -> int:
    assert value is not None, "flushed rows have ids"
    return value


def refused(message: str) -> ValidationFailed:
    """A jury use case's refusal, shown at the top of the page."""
    return ValidationFailed({"": message})


def jury_stages(*, session: Session, campaign_id: int) -> list[Stage]:
    return list(
        session.exec(
            select(Stage)
            .where(Stage.campaign_id == campaign_id, Stage.kind == StageKind.JURY)
            .order_by(col(Stage.position))
        ).all()
    )


DEFAULT_PICKS = 3


def panel_of(*, session: Session, stage: Stage) -> JuryPanel:
    """The stage's settings; the defaults (not yet saved) when the marketer set none: the
    jury picks three ideas, or every candidate when there are fewer."""
    saved = session.get(JuryPanel, stage.id)
    if saved is not None:
        return saved
    candidates = len(candidates_of(session=session, stage=stage).ideas)
    return JuryPanel(stage_id=_id(stage.id), picks=max(1, min(DEFAULT_PICKS, candidates)))


def criteria_of(*, session: Session, stage_id: int) -> list[JuryCriterion]:
    return list(
        session.exec(
            select(JuryCriterion)
            .where(JuryCriterion.stage_id == stage_id)
            .order_by(col(JuryCriterion.id))
        ).all()
    )


def jurors_of(*, session: Session, brand_id: int) -> list[User]:
    """The brand's jury: its members with the jury role."""
    return list(
        session.exec(
            select(User)
            .join(Membership, col(Membership.user_id) == User.id)
            .where(Membership.brand_id == brand_id, Membership.role == Role.JURY)
            .order_by(col(User.display_name), col(User.id))
        ).all()
    )


def is_juror(*, session: Session, brand_id: int, user: User | None) -> bool:
    if user is None or user.id is None:
        return False
    role = session.exec(
        select(Membership.role).where(
            Membership.brand_id == brand_id, Membership.user_id == user.id
        )
    ).first()
    return role == Role.JURY


def candidates_of(*, session: Session, stage: Stage) -> StageOutcome:
    """The ideas the jury scores: those that went on from the stage before."""
    return stage_inputs(session=session, stage=stage)


@dataclass(frozen=True)
class Candidate:
    idea: Idea
    scored: int  # criteria this juror has scored for it
    criteria: int

    @property
    def done(self) -> bool:
        return self.criteria > 0 and self.scored >= self.criteria


def candidates_for_juror(
    *, session: Session, stage: Stage, juror_id: int | None, criteria: int
) -> list[Candidate]:
    inputs = candidates_of(session=session, stage=stage)
    if not inputs.ideas:
        return []
    ideas = {
        _id(i.id): i for i in session.exec(select(Idea).where(col(Idea.id).in_(inputs.ideas))).all()
    }
    scored: dict[int, int] = {}
    if juror_id is not None:
        scored = {
            idea_id: int(n)
            for idea_id, n in session.exec(
                select(JuryScore.idea_id, func.count())
                .where(JuryScore.stage_id == stage.id, JuryScore.juror_id == juror_id)
                .group_by(col(JuryScore.idea_id))
            ).all()
        }
    return [Candidate(ideas[i], scored.get(i, 0), criteria) for i in inputs.ideas if i in ideas]


@dataclass(frozen=True)
class JurorProgress:
    juror: User
    scored: int
    needed: int

    @property
    def percent(self) -> int:
        return 100 if self.needed == 0 else round(100 * min(self.scored, self.needed) / self.needed)


def progress(
    *, session: Session, stage: Stage, jurors: Sequence[User], candidates: int, criteria: int
) -> list[JurorProgress]:
    """How far each juror is: scores given out of candidates x criteria."""
    given = dict(
        session.exec(
            select(JuryScore.juror_id, func.count())
            .where(JuryScore.stage_id == stage.id)
            .group_by(col(JuryScore.juror_id))
        ).all()
    )
    needed = candidates * criteria
    return [JurorProgress(j, int(given.get(_id(j.id), 0)), needed) for j in jurors]


def scores_of(*, session: Session, stage: Stage, juror_id: int, idea_id: int) -> dict[int, int]:
    rows = session.exec(
        select(JuryScore.criterion_id, JuryScore.score).where(
            JuryScore.stage_id == stage.id,
            JuryScore.juror_id == juror_id,
            JuryScore.idea_id == idea_id,
        )
    ).all()
    return {c: s for c, s in rows}
