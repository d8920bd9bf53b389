"""Changes of a campaign's timeline: add, change, remove or move a stage while it has not
opened; extend an open stage (with a reason). Closing a stage early and opening the next one
early are in `timeline_now.py`, on the helpers here.

A timeline that is saved is always valid (ordered, no overlap, voting after submission): a
change is checked on detached copies of the stages before anything is written, with the
campaign's row locked so that two changes of one timeline run one after the other. Archived
campaigns do not change at all. Every change is audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from cocreate.audit.service import record
from cocreate.campaigns.forms import StageInput
from cocreate.campaigns.models import Campaign, CampaignStatus, Stage
from cocreate.campaigns.service import can_edit_stage, can_extend, is_editable
from cocreate.campaigns.timeline import TimelineProblem, swap_slots, timeline_issues
from cocreate.forms import ValidationFailed
from cocreate.i18n import gettext as _


def _id(value: int | None) -> int:
    assert value is not None, "flushed rows have ids"
    return value


def lock_stages(session: Session, campaign: Campaign) -> list[Stage]:
    """Serialise timeline changes of one campaign (PostgreSQL row lock), then read its stages."""
    session.exec(
        select(Campaign)
        .where(Campaign.id == campaign.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    return list(
        session.exec(
            select(Stage)
            .where(Stage.campaign_id == campaign.id)
            .order_by(col(Stage.position))
            .execution_options(populate_existing=True)
        ).all()
    )


def stage_copy(stage: Stage, **changes: object) -> Stage:
    """A detached stand-in to check a timeline before anything is written."""
    values = {
        "id": stage.id,
        "campaign_id": stage.campaign_id,
        "position": stage.position,
        "kind": stage.kind,
        "title": stage.title,
        "opens_at": stage.opens_at,
        "closes_at": stage.closes_at,
        **changes,
    }
    return Stage(**values)  # type: ignore[arg-type]


def refuse_problems(problems: list[TimelineProblem], position: int | None) -> None:
    """Raise the problems as form errors: on the fields of the stage at `position` when they
    are about it, for the whole form otherwise."""
    if not problems:
        return
    errors: dict[str, str] = {}
    general: list[str] = []
    for problem in problems:
        fields = [field for pos, field in problem.about if pos == position]
        if fields:
            for field in fields:
                errors.setdefault(field, problem.message)
        else:
            general.append(problem.message)
    if general:
        errors[""] = " ".join(general)
    raise ValidationFailed(errors)


def refuse_unless_editable(campaign: Campaign) -> None:
    if not is_editable(campaign):
        raise ValidationFailed(
            {"": _("Archived campaigns cannot be changed. Move it back to draft first.")}
        )


def _refuse_started(campaign: Campaign, stage: Stage, now: datetime) -> None:
    if not can_edit_stage(campaign, stage, now):
        raise ValidationFailed(
            {
                "": _(
                    "This stage has already opened, so its times are fixed: "
                    "close it early or extend it instead."
                )
            }
        )


def _refuse_past_opening(campaign: Campaign, opens_at: datetime, now: datetime) -> None:
    if campaign.status == CampaignStatus.PUBLISHED and opens_at <= now:
        raise ValidationFailed(
            {"opens_at": _("The campaign is published: a new or changed stage must open later.")}
        )


def _set_positions(session: Session, targets: Sequence[tuple[Stage, int]]) -> None:
    """Move stages to new positions through negative ones first: the unique (campaign,
    position) pair is checked row by row on PostgreSQL, so a direct shuffle could collide."""
    for index, (stage, _target) in enumerate(targets):
        stage.position = -1 - index
        session.add(stage)
    session.flush()
    for stage, target in targets:
        stage.position = target
    session.flush()


def timeline_event(
    session: Session,
    *,
    campaign: Campaign,
    stage: Stage,
    action: str,
    actor_id: int | None,
    now: datetime,
    **data: object,
) -> None:
    event = record(
        session=session,
        actor_id=actor_id,
        action=action,
        subject_type="campaign",
        subject_id=campaign.id,
        stage_id=stage.id,
        position=stage.position,
        kind=stage.kind,
        **data,
    )
    event.at = now


def stage_times(stage: Stage) -> dict[str, str]:
    return {"opens_at": stage.opens_at.isoformat(), "closes_at": stage.closes_at.isoformat()}


def commit_timeline(session: Session) -> None:
    try:
        session.commit()
    except IntegrityError:  # another change of the same timeline won the race
        session.rollback()
        raise ValidationFailed(
            {"": _("The timeline changed while you were editing it. Please try again.")}
        ) from None


def add_stage(
    *, session: Session, campaign: Campaign, data: StageInput, actor_id: int | None, now: datetime
) -> Stage:
    """Insert a stage in time order; the timeline must stay valid."""
    refuse_unless_editable(campaign)
    _refuse_past_opening(campaign, data.opens_at, now)
    stages = lock_stages(session, campaign)
    position = sum(1 for s in stages if s.opens_at <= data.opens_at)
    new = Stage(
        campaign_id=_id(campaign.id),
        position=position,
        kind=data.kind,
        title=data.title,
        opens_at=data.opens_at,
        closes_at=data.closes_at,
    )
    candidate = [stage_copy(s, position=s.position + (s.position >= position)) for s in stages]
    refuse_problems(timeline_issues([*candidate, stage_copy(new)]), position)
    _set_positions(session, [(s, s.position + 1) for s in stages if s.position >= position])
    session.add(new)
    session.flush()
    timeline_event(
        session,
        campaign=campaign,
        stage=new,
        action="stage.added",
        actor_id=actor_id,
        now=now,
        after=stage_times(new),
    )
    commit_timeline(session)
    return new


def update_stage(
    *,
    session: Session,
    campaign: Campaign,
    stage: Stage,
    data: StageInput,
    actor_id: int | None,
    now: datetime,
) -> None:
    refuse_unless_editable(campaign)
    stages = lock_stages(session, campaign)
    _refuse_started(campaign, stage, now)
    _refuse_past_opening(campaign, data.opens_at, now)
    candidate = [
        stage_copy(s, kind=data.kind, opens_at=data.opens_at, closes_at=data.closes_at)
        if s.id == stage.id
        else stage_copy(s)
        for s in stages
    ]
    refuse_problems(timeline_issues(candidate), stage.position)
    before = stage_times(stage)
    stage.kind, stage.title = data.kind, data.title
    stage.opens_at, stage.closes_at = data.opens_at, data.closes_at
    session.add(stage)
    timeline_event(
        session,
        campaign=campaign,
        stage=stage,
        action="stage.changed",
        actor_id=actor_id,
        now=now,
        before=before,
        after=stage_times(stage),
    )
    commit_timeline(session)


def remove_stage(
    *, session: Session, campaign: Campaign, stage: Stage, actor_id: int | None, now: datetime
) -> None:
    refuse_unless_editable(campaign)
    stages = lock_stages(session, campaign)
    _refuse_started(campaign, stage, now)
    rest = [s for s in stages if s.id != stage.id]
    if campaign.status == CampaignStatus.PUBLISHED and not rest:
        raise ValidationFailed({"": _("A published campaign needs at least one stage.")})
    candidate = [stage_copy(s, position=index) for index, s in enumerate(rest)]
    refuse_problems(timeline_issues(candidate), None)
    timeline_event(
        session,
        campaign=campaign,
        stage=stage,
        action="stage.removed",
        actor_id=actor_id,
        now=now,
        before=stage_times(stage),
    )
    session.delete(stage)
    session.flush()
    _set_positions(session, [(s, index) for index, s in enumerate(rest)])
    commit_timeline(session)


def move_stage(
    *,
    session: Session,
    campaign: Campaign,
    stage: Stage,
    up: bool,
    actor_id: int | None,
    now: datetime,
) -> None:
    """Trade places with the stage before (or after): each keeps its length, the pair keeps
    its span, so the rest of the timeline does not move."""
    refuse_unless_editable(campaign)
    stages = lock_stages(session, campaign)
    index = next((i for i, s in enumerate(stages) if s.id == stage.id), None)
    if index is None:  # removed by someone else since the page was shown
        raise ValidationFailed(
            {"": _("The timeline changed while you were editing it. Please try again.")}
        )
    other_index = index - 1 if up else index + 1
    if not 0 <= other_index < len(stages):
        raise ValidationFailed({"": _("This stage cannot move further that way.")})
    first, second = sorted((stage, stages[other_index]), key=lambda s: s.position)
    _refuse_started(campaign, first, now)
    _refuse_started(campaign, second, now)
    (second_opens, second_closes), (first_opens, first_closes) = swap_slots(first, second)
    candidate = []
    for s in stages:
        if s.id == first.id:
            candidate.append(
                stage_copy(
                    s, position=second.position, opens_at=first_opens, closes_at=first_closes
                )
            )
        elif s.id == second.id:
            candidate.append(
                stage_copy(
                    s, position=first.position, opens_at=second_opens, closes_at=second_closes
                )
            )
        else:
            candidate.append(stage_copy(s))
    refuse_problems(timeline_issues(candidate), None)
    before = stage_times(stage)
    first.opens_at, first.closes_at = first_opens, first_closes
    second.opens_at, second.closes_at = second_opens, second_closes
    reordered = list(stages)
    reordered[index], reordered[other_index] = reordered[other_index], reordered[index]
    _set_positions(session, [(s, index) for index, s in enumerate(reordered)])
    timeline_event(
        session,
        campaign=campaign,
        stage=stage,
        action="stage.moved",
        actor_id=actor_id,
        now=now,
        before=before,
        after=stage_times(stage),
        direction="up" if up else "down",
    )
    commit_timeline(session)


def extend_stage(
    *,
    session: Session,
    campaign: Campaign,
    stage: Stage,
    closes_at: datetime,
    reason: str,
    actor_id: int | None,
    now: datetime,
) -> None:
    """Move a stage's closing later, with a reason; it may not run into the next stage."""
    refuse_unless_editable(campaign)
    stages = lock_stages(session, campaign)
    if not can_extend(campaign, stage, now):
        raise ValidationFailed({"": _("This stage has closed: it can no longer be extended.")})
    if closes_at <= stage.closes_at:
        raise ValidationFailed(
            {"closes_at": _("Choose a closing time later than the current one.")}
        )
    following = [s for s in stages if s.position > stage.position]
    if following and closes_at > following[0].opens_at:
        raise ValidationFailed(
            {
                "closes_at": _(
                    "This would overlap the next stage. Move or shorten the next stage first."
                )
            }
        )
    candidate = [
        stage_copy(s, closes_at=closes_at) if s.id == stage.id else stage_copy(s) for s in stages
    ]
    refuse_problems(timeline_issues(candidate), stage.position)
    before = stage_times(stage)
    stage.closes_at = closes_at
    session.add(stage)
    timeline_event(
        session,
        campaign=campaign,
        stage=stage,
        action="stage.extended",
        actor_id=actor_id,
        now=now,
        reason=reason,
        before=before,
        after=stage_times(stage),
    )
    commit_timeline(session)
