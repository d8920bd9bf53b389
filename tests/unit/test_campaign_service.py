"""Campaign and timeline rules against a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, select

from cocreate.audit.models import AuditEvent
from cocreate.brands.models import Brand
from cocreate.campaigns import details as campaign_details
from cocreate.campaigns import service, timeline_changes, timeline_now
from cocreate.campaigns.forms import CampaignInput, StageInput
from cocreate.campaigns.models import Campaign, CampaignStatus, Stage, StageKind
from cocreate.campaigns.timeline import Phase
from cocreate.clock import FrozenClock
from cocreate.forms import ValidationFailed
from tests.campaigns_support import add_stages, make_brand, make_campaign

DAY = timedelta(days=1)
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def details(slug: str = "summer", **changes: Any) -> CampaignInput:
    values: dict[str, Any] = {
        "title": "Summer",
        "slug": slug,
        "summary": "",
        "brief": "",
        "rules": "",
        "prizes": "",
        "primary_color": "#b3261e",
        "categories": [],
        "languages": ["en"],
        "submission_limit": 3,
        "timezone": "UTC",
        **changes,
    }
    return CampaignInput(**values)


def stage_input(
    kind: StageKind, opens_day: float, closes_day: float, title: str = ""
) -> StageInput:
    return StageInput(kind, title, T0 + opens_day * DAY, T0 + closes_day * DAY)


@pytest.fixture
def brand(session: Session) -> Brand:
    return make_brand(session)


@pytest.fixture
def draft(session: Session, brand: Brand) -> Campaign:
    return make_campaign(session, brand, created_at=T0 - 30 * DAY)


def positions(session: Session, campaign: Campaign) -> list[tuple[int, str]]:
    assert campaign.id is not None
    session.expire_all()
    return [
        (s.position, s.kind) for s in service.stages_of(session=session, campaign_id=campaign.id)
    ]


def add(session: Session, campaign: Campaign, data: StageInput, now: datetime = T0 - DAY) -> Stage:
    return timeline_changes.add_stage(
        session=session, campaign=campaign, data=data, actor_id=None, now=now
    )


def test_a_new_campaign_is_a_draft_and_its_address_is_unique(
    session: Session, brand: Brand
) -> None:
    campaign = campaign_details.create_campaign(
        session=session, brand=brand, data=details(), actor_id=None, now=T0
    )
    assert campaign.status == CampaignStatus.DRAFT and campaign.created_at == T0
    with pytest.raises(ValidationFailed) as refused:
        campaign_details.create_campaign(
            session=session, brand=brand, data=details(), actor_id=None, now=T0
        )
    assert "already uses this address" in refused.value.errors["slug"]


def test_stages_are_inserted_in_time_order(session: Session, draft: Campaign) -> None:
    add(session, draft, stage_input(StageKind.ANNOUNCEMENT, 20, 30))
    add(session, draft, stage_input(StageKind.SUBMISSION, 0, 10))
    add(session, draft, stage_input(StageKind.VOTING, 10, 20))
    assert positions(session, draft) == [(0, "submission"), (1, "voting"), (2, "announcement")]


def test_an_overlapping_stage_is_refused_on_the_field_that_overlaps(
    session: Session, draft: Campaign
) -> None:
    add(session, draft, stage_input(StageKind.SUBMISSION, 0, 10))
    with pytest.raises(ValidationFailed) as refused:
        add(session, draft, stage_input(StageKind.VOTING, 5, 15))
    assert "must not overlap" in refused.value.errors["opens_at"]
    session.rollback()
    assert positions(session, draft) == [(0, "submission")]


def test_voting_needs_a_submission_stage_before_it(session: Session, draft: Campaign) -> None:
    with pytest.raises(ValidationFailed) as refused:
        add(session, draft, stage_input(StageKind.VOTING, 0, 10))
    assert "put a submission stage before it" in refused.value.errors["kind"]


def test_removing_renumbers_and_cannot_orphan_a_vote(session: Session, draft: Campaign) -> None:
    stages = add_stages(
        session,
        draft,
        [
            (StageKind.SUBMISSION, T0, T0 + 10 * DAY),
            (StageKind.JURY, T0 + 10 * DAY, T0 + 12 * DAY),
            (StageKind.VOTING, T0 + 12 * DAY, T0 + 20 * DAY),
        ],
    )
    with pytest.raises(ValidationFailed) as refused:
        timeline_changes.remove_stage(
            session=session, campaign=draft, stage=stages[0], actor_id=None, now=T0
        )
    assert "put a submission stage before it" in refused.value.errors[""]
    session.rollback()
    timeline_changes.remove_stage(
        session=session, campaign=draft, stage=stages[1], actor_id=None, now=T0
    )
    assert positions(session, draft) == [(0, "submission"), (1, "voting")]


def test_moving_a_stage_trades_slots_with_its_neighbour(session: Session, draft: Campaign) -> None:
    stages = add_stages(
        session,
        draft,
        [
            (StageKind.SUBMISSION, T0, T0 + 10 * DAY),
            (StageKind.VOTING, T0 + 12 * DAY, T0 + 20 * DAY),
            (StageKind.JURY, T0 + 20 * DAY, T0 + 23 * DAY),
        ],
    )
    timeline_changes.move_stage(
        session=session, campaign=draft, stage=stages[2], up=True, actor_id=None, now=T0 - DAY
    )
    session.expire_all()
    jury, voting = stages[2], stages[1]
    assert (jury.position, jury.opens_at, jury.closes_at) == (1, T0 + 12 * DAY, T0 + 15 * DAY)
    assert (voting.position, voting.opens_at, voting.closes_at) == (2, T0 + 15 * DAY, T0 + 23 * DAY)

    def move_submission_down() -> None:
        timeline_changes.move_stage(
            session=session, campaign=draft, stage=stages[0], up=False, actor_id=None, now=T0 - DAY
        )

    move_submission_down()  # jury, submission, voting: still valid
    assert positions(session, draft) == [(0, "jury"), (1, "submission"), (2, "voting")]
    with pytest.raises(ValidationFailed) as refused:  # voting before any submission
        move_submission_down()
    assert "put a submission stage before it" in refused.value.errors[""]


def test_publishing_needs_a_valid_timeline_with_a_stage(session: Session, draft: Campaign) -> None:
    def publish() -> None:
        campaign_details.change_status(
            session=session, campaign=draft, to=CampaignStatus.PUBLISHED, actor_id=None, now=T0
        )

    with pytest.raises(ValidationFailed) as refused:
        publish()
    assert "at least one stage" in refused.value.errors[""]
    # A timeline saved by other means (an import, an old version) is still checked.
    add_stages(
        session,
        draft,
        [(StageKind.SUBMISSION, T0, T0 + 10 * DAY), (StageKind.VOTING, T0 + 5 * DAY, T0 + 9 * DAY)],
    )
    with pytest.raises(ValidationFailed) as refused:
        publish()
    assert "must not overlap" in refused.value.errors[""]


def test_publish_archive_and_back_to_draft_are_audited(session: Session, draft: Campaign) -> None:
    add_stages(session, draft, [(StageKind.SUBMISSION, T0, T0 + 10 * DAY)])
    for to in (CampaignStatus.PUBLISHED, CampaignStatus.ARCHIVED, CampaignStatus.DRAFT):
        campaign_details.change_status(
            session=session, campaign=draft, to=to, actor_id=None, now=T0
        )
        assert draft.status == to
    assert draft.published_at == T0
    actions = session.exec(select(AuditEvent.action).order_by(col(AuditEvent.id))).all()
    assert actions == ["campaign.published", "campaign.archived", "campaign.draft"]
    with pytest.raises(ValidationFailed):  # a draft cannot go back to draft
        campaign_details.change_status(
            session=session, campaign=draft, to=CampaignStatus.DRAFT, actor_id=None, now=T0
        )


def test_a_published_campaign_keeps_what_has_opened(session: Session, brand: Brand) -> None:
    campaign = make_campaign(session, brand, status=CampaignStatus.PUBLISHED)
    submission, voting = add_stages(
        session,
        campaign,
        [
            (StageKind.SUBMISSION, T0, T0 + 10 * DAY),
            (StageKind.VOTING, T0 + 12 * DAY, T0 + 20 * DAY),
        ],
    )
    now = T0 + DAY
    with pytest.raises(ValidationFailed) as refused:
        timeline_changes.update_stage(
            session=session,
            campaign=campaign,
            stage=submission,
            data=stage_input(StageKind.SUBMISSION, 0, 11),
            actor_id=None,
            now=now,
        )
    assert "close it early or extend it" in refused.value.errors[""]
    session.rollback()
    with pytest.raises(ValidationFailed) as refused:  # a new stage may not start in the past
        add(session, campaign, stage_input(StageKind.JURY, 0.5, 0.9), now=now)
    assert "must open later" in refused.value.errors["opens_at"]
    session.rollback()
    timeline_changes.update_stage(  # the upcoming stage can still move
        session=session,
        campaign=campaign,
        stage=voting,
        data=stage_input(StageKind.VOTING, 13, 21, title="Round 1"),
        actor_id=None,
        now=now,
    )
    session.expire_all()
    assert (voting.title, voting.opens_at) == ("Round 1", T0 + 13 * DAY)


def test_an_archived_campaign_does_not_change(session: Session, brand: Brand) -> None:
    campaign = make_campaign(session, brand, status=CampaignStatus.ARCHIVED)
    (stage,) = add_stages(session, campaign, [(StageKind.SUBMISSION, T0, T0 + 10 * DAY)])
    with pytest.raises(ValidationFailed):
        add(session, campaign, stage_input(StageKind.JURY, 11, 12))
    with pytest.raises(ValidationFailed):
        timeline_now.close_stage_early(
            session=session,
            campaign=campaign,
            stage=stage,
            reason="x" * 5,
            actor_id=None,
            now=T0 + DAY,
        )
    with pytest.raises(ValidationFailed):
        campaign_details.update_campaign(
            session=session,
            campaign=campaign,
            data=details(title="New"),
            cover_image=None,
            actor_id=None,
            now=T0,
        )


@pytest.fixture
def running(session: Session, brand: Brand) -> tuple[Campaign, list[Stage]]:
    campaign = make_campaign(session, brand, status=CampaignStatus.PUBLISHED)
    stages = add_stages(
        session,
        campaign,
        [
            (StageKind.SUBMISSION, T0, T0 + 10 * DAY),
            (StageKind.VOTING, T0 + 12 * DAY, T0 + 20 * DAY),
        ],
    )
    return campaign, stages


def test_closing_early_before_during_and_after(
    session: Session, running: tuple[Campaign, list[Stage]], make_user: Any
) -> None:
    campaign, (submission, _voting) = running
    actor = make_user(name="Marketer")

    def close(now: datetime) -> None:
        timeline_now.close_stage_early(
            session=session,
            campaign=campaign,
            stage=submission,
            reason="Enough ideas already",
            actor_id=actor.id,
            now=now,
        )

    for too_soon_or_late in (T0 - DAY, T0 + 11 * DAY):
        with pytest.raises(ValidationFailed) as refused:
            close(too_soon_or_late)
        assert refused.value.errors[""] == "Only an open stage can be closed early."
        session.rollback()
    clock = FrozenClock(T0 + 3 * DAY)
    close(clock.now())
    session.expire_all()
    assert submission.closes_at == T0 + 3 * DAY
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "stage.closed_early")).one()
    assert event.actor_id == actor.id and event.at == T0 + 3 * DAY
    assert event.subject_type == "campaign" and event.subject_id == campaign.id
    assert event.data["reason"] == "Enough ideas already"
    assert event.data["before"]["closes_at"] == (T0 + 10 * DAY).isoformat()
    assert event.data["after"]["closes_at"] == (T0 + 3 * DAY).isoformat()
    history = service.timeline_history(session=session, campaign_id=campaign.id or 0)
    assert [(e.action, name) for e, name in history] == [("stage.closed_early", "Marketer")]


def test_extending_may_not_run_into_the_next_stage(
    session: Session, running: tuple[Campaign, list[Stage]]
) -> None:
    campaign, (submission, voting) = running
    now = T0 + 5 * DAY

    def extend(stage: Stage, closes_at: datetime, at: datetime = now) -> None:
        timeline_changes.extend_stage(
            session=session,
            campaign=campaign,
            stage=stage,
            closes_at=closes_at,
            reason="More time for ideas",
            actor_id=None,
            now=at,
        )

    with pytest.raises(ValidationFailed) as refused:
        extend(submission, T0 + 13 * DAY)
    assert "overlap the next stage" in refused.value.errors["closes_at"]
    session.rollback()
    with pytest.raises(ValidationFailed) as refused:
        extend(submission, T0 + 9 * DAY)
    assert "later than the current one" in refused.value.errors["closes_at"]
    session.rollback()
    with pytest.raises(ValidationFailed) as refused:  # once closed, it stays closed
        extend(submission, T0 + 11 * DAY, at=T0 + 10 * DAY)
    assert "can no longer be extended" in refused.value.errors[""]
    session.rollback()
    extend(submission, T0 + 12 * DAY)  # right up to the next opening is fine
    extend(voting, T0 + 40 * DAY)  # the last stage can run as long as needed
    session.expire_all()
    assert submission.closes_at == T0 + 12 * DAY and voting.closes_at == T0 + 40 * DAY
    events = session.exec(select(AuditEvent).where(AuditEvent.action == "stage.extended")).all()
    assert [e.data["after"]["closes_at"] for e in events] == [
        (T0 + 12 * DAY).isoformat(),
        (T0 + 40 * DAY).isoformat(),
    ]
    assert all(e.data["reason"] == "More time for ideas" and e.at == now for e in events)


def test_the_public_list_shows_open_then_upcoming_then_finished(
    session: Session, brand: Brand
) -> None:
    def campaign(slug: str, opens: float, closes: float, status: CampaignStatus) -> None:
        made = make_campaign(session, brand, slug, status=status)
        add_stages(session, made, [(StageKind.SUBMISSION, T0 + opens * DAY, T0 + closes * DAY)])

    published = CampaignStatus.PUBLISHED
    campaign("finished-long-ago", -30, -20, published)
    campaign("upcoming", 5, 10, published)
    campaign("open-late", -1, 20, published)
    campaign("finished-lately", -10, -1, published)
    campaign("open-soon-closing", -1, 2, published)
    campaign("a-draft", -1, 2, CampaignStatus.DRAFT)
    campaign("archived", -1, 2, CampaignStatus.ARCHIVED)
    cards = service.list_public_campaigns(session=session, now=T0)
    assert [(c.campaign.slug, c.phase) for c in cards] == [
        ("open-soon-closing", Phase.ACTIVE),
        ("open-late", Phase.ACTIVE),
        ("upcoming", Phase.UPCOMING),
        ("finished-lately", Phase.FINISHED),
        ("finished-long-ago", Phase.FINISHED),
    ]
