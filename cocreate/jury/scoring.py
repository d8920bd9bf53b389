"""A juror scores a candidate on every criterion, from 0 to 10, while the stage is open; each
score given or changed is an audit event."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from cocreate.accounts.models import User
from cocreate.audit.service import record
from cocreate.campaigns.models import Campaign, Stage, StageKind
from cocreate.db import begin_write
from cocreate.i18n import gettext as _
from cocreate.jury.models import JuryPanel, JuryScore
from cocreate.jury.panel import candidates_of, criteria_of, is_juror, refused


def _id(value: int | None) -> int:
    assert value is not None, "flushed rows have ids"
    return value


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
        raise refused(_("This is not a jury stage of this campaign."))
    if not is_juror(session=session, brand_id=campaign.brand_id, user=juror):
        raise refused(_("Only members of the brand's jury can score ideas."))
    problem = scoring_problem(session=session, stage=stage, now=now)
    if problem:
        raise refused(problem)
    if idea_id not in candidates_of(session=session, stage=stage).ideas:
        raise refused(_("This idea is not one the jury scores in this stage."))
    criteria = {_id(c.id) for c in criteria_of(session=session, stage_id=_id(stage.id))}
    if set(scores) - criteria:
        raise refused(_("A criterion of this form does not exist any more: reload the page."))
    if any(not 0 <= value <= 10 for value in scores.values()):
        raise refused(_("Scores go from 0 to 10."))
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
