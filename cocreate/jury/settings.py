"""The marketer's settings of a jury stage: its criteria (with weights) and how many ideas it
picks. Every change is audited; none once the scoring is closed."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, select

from cocreate.audit.service import record
from cocreate.campaigns.models import Stage
from cocreate.db import begin_write
from cocreate.i18n import gettext as _
from cocreate.jury.models import JuryCriterion, JuryPanel, JuryScore
from cocreate.jury.panel import criteria_of, refused

MAX_CRITERIA = 12
MAX_PICKS = 1000


def _id(value: int | None) -> int:
    assert value is not None, "flushed rows have ids"
    return value


def _check_not_finalised(session: Session, stage: Stage) -> None:
    panel = session.get(JuryPanel, stage.id)
    if panel is not None and panel.finalised_at is not None:
        raise refused(_("The jury's scoring is closed: this stage cannot change any more."))


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
        raise refused(_("A jury stage has at most %(n)d criteria.") % {"n": MAX_CRITERIA})
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
        raise refused(_("This criterion does not exist any more."))
    used = session.exec(
        select(func.count()).select_from(JuryScore).where(JuryScore.criterion_id == criterion_id)
    ).one()
    if used:
        raise refused(_("Jurors have already scored this criterion: it can no longer be removed."))
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
