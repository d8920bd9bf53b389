"""Timeline changes that take effect now, each with a reason for the audit trail: close an
open stage early, or open the next stage early (after the one before closed early, so that
the timeline has no gap). Both are one shared change: set a stage's time to now, once the
rule allows it and the timeline stays valid.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlmodel import Session

from cocreate.campaigns.models import Campaign, Stage
from cocreate.campaigns.service import can_close_early, why_not_open_early
from cocreate.campaigns.timeline import timeline_issues
from cocreate.campaigns.timeline_changes import (
    commit_timeline,
    lock_stages,
    refuse_problems,
    refuse_unless_editable,
    stage_copy,
    stage_times,
    timeline_event,
)
from cocreate.forms import ValidationFailed
from cocreate.i18n import gettext as _


def _set_time_now(
    *,
    session: Session,
    campaign: Campaign,
    stage: Stage,
    field: str,
    action: str,
    refusal: Callable[[list[Stage]], str | None],
    reason: str,
    actor_id: int | None,
    now: datetime,
) -> None:
    """Set the stage's `field` (opens_at or closes_at) to `now` unless `refusal` (given the
    locked timeline) says why not, or the changed timeline would be invalid; audited."""
    refuse_unless_editable(campaign)
    stages = lock_stages(session, campaign)
    refused = refusal(stages)
    if refused is not None:
        raise ValidationFailed({"": refused})
    candidate = [
        stage_copy(s, **{field: now}) if s.id == stage.id else stage_copy(s) for s in stages
    ]
    refuse_problems(timeline_issues(candidate), stage.position)
    before = stage_times(stage)
    setattr(stage, field, now)
    session.add(stage)
    timeline_event(
        session,
        campaign=campaign,
        stage=stage,
        action=action,
        actor_id=actor_id,
        now=now,
        reason=reason,
        before=before,
        after=stage_times(stage),
    )
    commit_timeline(session)


def close_stage_early(
    *,
    session: Session,
    campaign: Campaign,
    stage: Stage,
    reason: str,
    actor_id: int | None,
    now: datetime,
) -> None:
    """Close an open stage now, with a reason that goes into the audit trail."""

    def refusal(stages: list[Stage]) -> str | None:
        if can_close_early(campaign, stage, now):
            return None
        return _("Only an open stage can be closed early.")

    _set_time_now(
        session=session,
        campaign=campaign,
        stage=stage,
        field="closes_at",
        action="stage.closed_early",
        refusal=refusal,
        reason=reason,
        actor_id=actor_id,
        now=now,
    )


def open_stage_early(
    *,
    session: Session,
    campaign: Campaign,
    stage: Stage,
    reason: str,
    actor_id: int | None,
    now: datetime,
) -> None:
    """Open the next stage now instead of at its planned time, with a reason; refused while
    a stage before it is open (they would overlap) or has not opened yet."""
    _set_time_now(
        session=session,
        campaign=campaign,
        stage=stage,
        field="opens_at",
        action="stage.opened_early",
        refusal=lambda stages: why_not_open_early(campaign, stages, stage, now),
        reason=reason,
        actor_id=actor_id,
        now=now,
    )
