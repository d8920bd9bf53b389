"""The jury stage: criteria with weights, scores from 0 to 10, and the ideas the scores pick.

The marketer defines the criteria and how many ideas the jury picks. Each member of the
brand's jury scores every candidate on every criterion while the stage is open; every score
given or changed is an audit event. An idea's jury score is the weighted average, over the
criteria, of the jurors' mean score on each. Closing the scoring freezes the ranking
(`jury_outcomes`); the top ideas go on to the next voting round, or are the winners.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from cocreate.accounts.models import User
from cocreate.audit.service import record
from cocreate.brands.models import Membership, Role
from cocreate.campaigns.models import Campaign, Stage, StageKind
from cocreate.db import begin_write
from cocreate.forms import ValidationFailed
from cocreate.i18n import gettext as _
from cocreate.ideas.models import Idea
from cocreate.voting.results import (
    StageOutcome,
    carry_forward,
    stage_inputs,
    submission_order,
)
from cocreate.voting.results_models import JuryCriterion, JuryOutcome, JuryPanel, JuryScore

MAX_CRITERIA = 12
MAX_PICKS = 1000


def _id(value: int | None) -> int:
    assert value is not None, "flushed rows have ids"
    return value


def _refused(message: str) -> ValidationFailed:
    return ValidationFailed({"": message})


# --- Reading -------------------------------------------------------------------------------


def jury_stages(*, session: Session, campaign_id: int) -> list[Stage]:
    return list(
        session.exec(
            select(Stage)
            .where(Stage.campaign_id == campaign_id, Stage.kind == StageKind.JURY)
            .order_by(col(Stage.position))
        ).all()
    )


def panel_of(*, session: Session, stage: Stage) -> JuryPanel:
    """The stage's settings; the defaults (not yet saved) when the marketer set none."""
    return session.get(JuryPanel, stage.id) or JuryPanel(stage_id=_id(stage.id))


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


# --- The marketer's settings -------------------------------------------------------------


def _check_not_finalised(session: Session, stage: Stage) -> None:
    panel = session.get(JuryPanel, stage.id)
    if panel is not None and panel.finalised_at is not None:
        raise _refused(_("The jury's scoring is closed: this stage cannot change any more."))


def add_criterion(
    *,
    session: Session,
    stage: Stage,
    name: str,
    description: str,
    weight: int,
    actor_id: int | None,
) -> JuryCriterion:
    begin_write(session)
    _check_not_finalised(session, stage)
    if len(criteria_of(session=session, stage_id=_id(stage.id))) >= MAX_CRITERIA:
        raise _refused(_("A jury stage has at most %(n)d criteria.") % {"n": MAX_CRITERIA})
    criterion = JuryCriterion(
        stage_id=_id(stage.id), name=name, description=description, weight=weight
    )
    session.add(criterion)
    session.flush()
    record(
        session=session,
        actor_id=actor_id,
        action="jury.criterion_added",
        subject_type="stage",
        subject_id=stage.id,
        criterion_id=criterion.id,
        name=name,
        weight=weight,
    )
    session.commit()
    return criterion


def remove_criterion(
    *, session: Session, stage: Stage, criterion_id: int, actor_id: int | None
) -> None:
    begin_write(session)
    _check_not_finalised(session, stage)
    criterion = session.get(JuryCriterion, criterion_id)
    if criterion is None or criterion.stage_id != stage.id:
        raise _refused(_("This criterion does not exist any more."))
    used = session.exec(
        select(func.count()).select_from(JuryScore).where(JuryScore.criterion_id == criterion_id)
    ).one()
    if used:
        raise _refused(_("Jurors have already scored this criterion: it can no longer be removed."))
    record(
        session=session,
        actor_id=actor_id,
        action="jury.criterion_removed",
        subject_type="stage",
        subject_id=stage.id,
        criterion_id=criterion_id,
        name=criterion.name,
    )
    session.delete(criterion)
    session.commit()


def set_picks(*, session: Session, stage: Stage, picks: int, actor_id: int | None) -> JuryPanel:
    begin_write(session)
    _check_not_finalised(session, stage)
    panel = session.get(JuryPanel, stage.id) or JuryPanel(stage_id=_id(stage.id))
    before = panel.picks
    panel.picks = picks
    session.add(panel)
    record(
        session=session,
        actor_id=actor_id,
        action="jury.picks_changed",
        subject_type="stage",
        subject_id=stage.id,
        before=before,
        after=picks,
    )
    session.commit()
    return panel


# --- Scoring -----------------------------------------------------------------------------


def scoring_problem(*, session: Session, stage: Stage, now: datetime) -> str | None:
    panel = session.get(JuryPanel, stage.id)
    if panel is not None and panel.finalised_at is not None:
        return _("The jury's scoring is closed.")
    if now < stage.opens_at:
        return _("The jury stage has not opened yet.")
    if now >= stage.closes_at:
        return _("The jury stage has closed.")
    return None


def score_idea(
    *,
    session: Session,
    campaign: Campaign,
    stage: Stage,
    juror: User,
    idea_id: int,
    scores: Mapping[int, int],
    now: datetime,
) -> int:
    """Save a juror's scores of one idea (criterion id -> 0..10). Returns how many changed.

    Only members of the brand's jury score, only candidates of this stage, only while it is
    open; each new or changed score is an audit event.
    """
    if stage.campaign_id != campaign.id or stage.kind != StageKind.JURY:
        raise _refused(_("This is not a jury stage of this campaign."))
    if not is_juror(session=session, brand_id=campaign.brand_id, user=juror):
        raise _refused(_("Only members of the brand's jury can score ideas."))
    problem = scoring_problem(session=session, stage=stage, now=now)
    if problem:
        raise _refused(problem)
    if idea_id not in candidates_of(session=session, stage=stage).ideas:
        raise _refused(_("This idea is not one the jury scores in this stage."))
    criteria = {_id(c.id) for c in criteria_of(session=session, stage_id=_id(stage.id))}
    if set(scores) - criteria:
        raise _refused(_("A criterion of this form does not exist any more: reload the page."))
    if any(not 0 <= value <= 10 for value in scores.values()):
        raise _refused(_("Scores go from 0 to 10."))
    try:
        return _save_scores(session, stage, juror, idea_id, scores, now)
    except IntegrityError:
        # The same juror's form sent twice at once: the other request stored these scores
        # first. Once more, now as changes to the rows it wrote.
        session.rollback()
        return _save_scores(session, stage, juror, idea_id, scores, now)


def _save_scores(
    session: Session,
    stage: Stage,
    juror: User,
    idea_id: int,
    scores: Mapping[int, int],
    now: datetime,
) -> int:
    begin_write(session)
    existing = {
        s.criterion_id: s
        for s in session.exec(
            select(JuryScore).where(
                JuryScore.stage_id == stage.id,
                JuryScore.juror_id == juror.id,
                JuryScore.idea_id == idea_id,
            )
        ).all()
    }
    changed = 0
    for criterion_id, value in sorted(scores.items()):
        row = existing.get(criterion_id)
        before = row.score if row is not None else None
        if before == value:
            continue
        if row is None:
            row = JuryScore(
                stage_id=_id(stage.id),
                criterion_id=criterion_id,
                idea_id=idea_id,
                juror_id=_id(juror.id),
                score=value,
                scored_at=now,
            )
        else:
            row.score = value
            row.scored_at = now
        session.add(row)
        record(
            session=session,
            actor_id=juror.id,
            action="jury.scored",
            subject_type="idea",
            subject_id=idea_id,
            stage_id=stage.id,
            criterion_id=criterion_id,
            before=before,
            after=value,
        )
        changed += 1
    session.commit()
    return changed


# --- Closing the scoring -----------------------------------------------------------------


def finalise_problems(
    *, session: Session, campaign: Campaign, stage: Stage, now: datetime
) -> list[str]:
    problems = []
    panel = session.get(JuryPanel, stage.id)
    if panel is not None and panel.finalised_at is not None:
        return [_("The jury's scoring is already closed.")]
    criteria = criteria_of(session=session, stage_id=_id(stage.id))
    if not criteria:
        problems.append(_("Define at least one criterion first."))
    inputs = candidates_of(session=session, stage=stage)
    if not inputs.ready:
        problems.append(
            _("The ideas for the jury are not known yet: the stage before has not decided.")
        )
    if now < stage.closes_at and not problems:
        jurors = jurors_of(session=session, brand_id=campaign.brand_id)
        rows = progress(
            session=session,
            stage=stage,
            jurors=jurors,
            candidates=len(inputs.ideas),
            criteria=len(criteria),
        )
        if not jurors or any(p.scored < p.needed for p in rows):
            problems.append(_("The stage is still open and not every juror has scored every idea."))
    return problems


def finalise(
    *, session: Session, campaign: Campaign, stage: Stage, actor_id: int | None, now: datetime
) -> list[JuryStanding]:
    """Freeze the jury's ranking; the top `picks` ideas go on. Audited."""
    problems = finalise_problems(session=session, campaign=campaign, stage=stage, now=now)
    if problems:
        raise _refused(" ".join(problems))
    begin_write(session)
    # Two managers closing at once: the second waits here, then sees it closed.
    session.exec(select(Stage.id).where(Stage.id == stage.id).with_for_update()).one()
    panel = session.get(JuryPanel, stage.id, populate_existing=True) or JuryPanel(
        stage_id=_id(stage.id)
    )
    if panel.finalised_at is not None:
        session.rollback()
        raise _refused(_("The jury's scoring is already closed."))
    criteria = criteria_of(session=session, stage_id=_id(stage.id))
    inputs = candidates_of(session=session, stage=stage)
    standings = jury_standings(
        session=session, stage=stage, idea_ids=inputs.ideas, criteria=criteria
    )
    picked = [s.idea_id for s in standings[: panel.picks]]
    if standings:
        session.execute(
            insert(JuryOutcome),
            [
                {
                    "stage_id": stage.id,
                    "idea_id": s.idea_id,
                    "position": s.position,
                    "average": s.average,
                    "scores": s.scores,
                    "picked": s.position <= panel.picks,
                }
                for s in standings
            ],
        )
    panel.finalised_at = now
    panel.finalised_by_id = actor_id
    session.add(panel)
    carry_forward(session=session, stage=stage, idea_ids=picked, now=now)
    record(
        session=session,
        actor_id=actor_id,
        action="jury.finalised",
        subject_type="stage",
        subject_id=stage.id,
        picked=picked,
        averages={str(s.idea_id): round(s.average, 4) for s in standings},
    )
    session.commit()
    return standings
