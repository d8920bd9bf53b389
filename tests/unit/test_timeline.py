from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cocreate.campaigns.models import Stage, StageKind
from cocreate.campaigns.timeline import is_open, timeline_problems, timeline_state

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def stage(position: int, kind: StageKind, opens_day: int, closes_day: int) -> Stage:
    return Stage(
        campaign_id=1,
        position=position,
        kind=kind,
        opens_at=T0 + timedelta(days=opens_day),
        closes_at=T0 + timedelta(days=closes_day),
    )


TIMELINE = [
    stage(0, StageKind.SUBMISSION, 0, 10),
    stage(1, StageKind.VOTING, 12, 20),
    stage(2, StageKind.ANNOUNCEMENT, 20, 30),
]


def test_before_the_first_stage_nothing_is_open_and_the_countdown_is_to_its_opening() -> None:
    state = timeline_state(TIMELINE, T0 - timedelta(hours=1))
    assert state.current is None and state.previous is None
    assert state.next is TIMELINE[0] and state.next_change_at == T0


def test_during_a_stage_it_is_current_until_the_closing_instant() -> None:
    assert timeline_state(TIMELINE, T0).current is TIMELINE[0]
    just_before = T0 + timedelta(days=10) - timedelta(microseconds=1)
    assert is_open(TIMELINE, StageKind.SUBMISSION, just_before) is TIMELINE[0]
    assert is_open(TIMELINE, StageKind.SUBMISSION, T0 + timedelta(days=10)) is None


def test_between_stages_the_previous_and_next_are_known() -> None:
    state = timeline_state(TIMELINE, T0 + timedelta(days=11))
    assert state.current is None
    assert state.previous is TIMELINE[0] and state.next is TIMELINE[1]
    assert state.next_change_at == TIMELINE[1].opens_at


def test_after_the_last_stage_the_campaign_is_finished() -> None:
    state = timeline_state(TIMELINE, T0 + timedelta(days=31))
    assert state.finished and state.previous is TIMELINE[2] and state.next_change_at is None


def test_a_valid_timeline_has_no_problems() -> None:
    assert timeline_problems(TIMELINE) == []


def test_overlap_wrong_order_and_voting_without_ideas_are_reported() -> None:
    overlapping = [stage(0, StageKind.SUBMISSION, 0, 10), stage(1, StageKind.VOTING, 5, 15)]
    assert any("must not overlap" in p for p in timeline_problems(overlapping))
    backwards = [stage(0, StageKind.SUBMISSION, 5, 1)]
    assert any("must close after it opens" in p for p in timeline_problems(backwards))
    no_ideas = [stage(0, StageKind.VOTING, 0, 10)]
    assert any("put a submission stage before it" in p for p in timeline_problems(no_ideas))
    early_announcement = [
        stage(0, StageKind.SUBMISSION, 0, 1),
        stage(1, StageKind.ANNOUNCEMENT, 1, 2),
        stage(2, StageKind.VOTING, 2, 3),
    ]
    assert any("last stage" in p for p in timeline_problems(early_announcement))
