"""Closing the jury's scoring: the ranking is frozen (`jury_outcomes`) and the top ideas go on
to the next voting round, or are the winners."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert
from sqlmodel import Session, select

from cocreate.audit.service import record
from cocreate.campaigns.models import Campaign, Stage
from cocreate.db import begin_write
from cocreate.i18n import gettext as _
from cocreate.jury.models import JuryOutcome, JuryPanel
from cocreate.jury.panel import candidates_of, criteria_of, jurors_of, progress, refused
from cocreate.jury.standings import JuryStanding, jury_standings
from cocreate.results.advancement import carry_forward


def _id(value: int | None) -> int:
    assert value is not None, "flushed rows have ids"
    return value


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
        raise refused(" ".join(problems))
    begin_write(session)
    # Two managers closing at once: the second waits here, then sees it closed.
    session.exec(select(Stage.id).where(Stage.id == stage.id).with_for_update()).one()
    panel = session.get(JuryPanel, stage.id, populate_existing=True) or JuryPanel(
        stage_id=_id(stage.id)
    )
    if panel.finalised_at is not None:
        session.rollback()
        raise refused(_("The jury's scoring is already closed."))
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
