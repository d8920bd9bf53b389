"""Open the next stage now: after the stage before closed early, the timeline has no gap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from cocreate.audit.models import AuditEvent
from cocreate.campaigns import service, timeline_now
from cocreate.campaigns.models import Campaign, CampaignStatus, Stage, StageKind
from cocreate.forms import ValidationFailed
from tests.campaigns_support import add_stages, make_brand, make_campaign

DAY = timedelta(days=1)
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def timeline(session: Session) -> tuple[Campaign, list[Stage]]:
    campaign = make_campaign(session, make_brand(session), status=CampaignStatus.PUBLISHED)
    stages = add_stages(
        session,
        campaign,
        [
            (StageKind.SUBMISSION, T0, T0 + 10 * DAY),
            (StageKind.VOTING, T0 + 12 * DAY, T0 + 20 * DAY),
            (StageKind.ANNOUNCEMENT, T0 + 21 * DAY, T0 + 30 * DAY),
        ],
    )
    return campaign, stages


def open_now(session: Session, campaign: Campaign, stage: Stage, now: datetime, **kw: Any) -> None:
    timeline_now.open_stage_early(
        session=session,
        campaign=campaign,
        stage=stage,
        reason="Enough ideas: vote now",
        actor_id=kw.get("actor_id"),
        now=now,
    )


def refusal(session: Session, campaign: Campaign, stage: Stage, now: datetime) -> str:
    with pytest.raises(ValidationFailed) as refused:
        open_now(session, campaign, stage, now)
    session.rollback()
    return refused.value.errors[""]


def test_the_next_stage_opens_now_after_the_one_before_closed_early(
    session: Session, timeline: tuple[Campaign, list[Stage]], make_user: Any
) -> None:
    campaign, (submission, voting, _announcement) = timeline
    actor = make_user(name="Marketer")
    timeline_now.close_stage_early(
        session=session,
        campaign=campaign,
        stage=submission,
        reason="Plenty of ideas",
        actor_id=actor.id,
        now=T0 + 3 * DAY,
    )
    now = T0 + 3 * DAY + timedelta(minutes=5)
    stages = service.stages_of(session=session, campaign_id=campaign.id or 0)
    assert service.can_open_early(campaign, stages, voting, now)
    open_now(session, campaign, voting, now, actor_id=actor.id)
    session.expire_all()
    assert (voting.opens_at, voting.closes_at) == (now, T0 + 20 * DAY)  # closes as planned
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "stage.opened_early")).one()
    assert event.actor_id == actor.id and event.at == now
    assert event.data["reason"] == "Enough ideas: vote now"
    assert event.data["before"]["opens_at"] == (T0 + 12 * DAY).isoformat()
    assert event.data["after"]["opens_at"] == now.isoformat()
    history = service.timeline_history(session=session, campaign_id=campaign.id or 0)
    assert [e.action for e, _name in history] == ["stage.opened_early", "stage.closed_early"]


def test_refused_when_the_timeline_would_overlap_or_skip_a_stage(
    session: Session, timeline: tuple[Campaign, list[Stage]]
) -> None:
    campaign, (_submission, voting, announcement) = timeline
    during = T0 + 3 * DAY  # submission still open
    assert "still open" in refusal(session, campaign, voting, during)
    assert "overlap" in refusal(session, campaign, voting, during)
    in_the_gap = T0 + 11 * DAY  # submission closed, voting not open yet
    assert "has not opened yet" in refusal(session, campaign, announcement, in_the_gap)
    during_voting = T0 + 13 * DAY
    assert "not opened yet can open now" in refusal(session, campaign, voting, during_voting)
    session.expire_all()
    assert voting.opens_at == T0 + 12 * DAY and announcement.opens_at == T0 + 21 * DAY
    assert session.exec(select(AuditEvent)).all() == []
    # In the gap the next stage opens: nothing overlaps.
    open_now(session, campaign, voting, in_the_gap)
    session.expire_all()
    assert voting.opens_at == in_the_gap


def test_refused_for_drafts_and_archived_campaigns(session: Session) -> None:
    for status in (CampaignStatus.DRAFT, CampaignStatus.ARCHIVED):
        brand = make_brand(session, slug=f"brand-{status}", name=f"Brand {status}")
        campaign = make_campaign(session, brand, f"c-{status}", status=status)
        _first, second = add_stages(
            session,
            campaign,
            [
                (StageKind.SUBMISSION, T0, T0 + DAY),
                (StageKind.VOTING, T0 + 3 * DAY, T0 + 9 * DAY),
            ],
        )
        with pytest.raises(ValidationFailed):
            open_now(session, campaign, second, T0 + 2 * DAY)
        session.rollback()
