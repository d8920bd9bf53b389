from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cocreate.campaigns.models import Stage, StageKind
from cocreate.campaigns.timeline import (
    Phase,
    countdown,
    format_duration,
    is_open,
    phase,
    swap_slots,
    timeline_issues,
    timeline_problems,
    timeline_state,
)
from cocreate.i18n import using_locale

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


def test_an_overlap_is_tied_to_the_later_opening_and_the_earlier_closing() -> None:
    overlapping = [stage(0, StageKind.SUBMISSION, 0, 10), stage(1, StageKind.VOTING, 5, 15)]
    (problem,) = timeline_issues(overlapping)
    assert set(problem.about) == {(1, "opens_at"), (0, "closes_at")}


def test_a_second_announcement_is_tied_to_its_kind() -> None:
    twice = [
        stage(0, StageKind.SUBMISSION, 0, 1),
        stage(1, StageKind.ANNOUNCEMENT, 1, 2),
        stage(2, StageKind.ANNOUNCEMENT, 2, 3),
    ]
    messages = {p.message: p.about for p in timeline_issues(twice)}
    assert messages["A campaign has at most one announcement stage."] == ((2, "kind"),)


def test_swapping_slots_keeps_each_length_the_gap_and_the_span() -> None:
    first = stage(0, StageKind.SUBMISSION, 0, 10)  # 10 days
    second = stage(1, StageKind.JURY, 12, 15)  # 3 days, 2 days after
    (second_opens, second_closes), (first_opens, first_closes) = swap_slots(first, second)
    assert (second_opens, second_closes) == (T0, T0 + timedelta(days=3))
    assert (first_opens, first_closes) == (T0 + timedelta(days=5), T0 + timedelta(days=15))


def test_durations_read_as_two_units_at_most() -> None:
    assert format_duration(timedelta(days=2, hours=4, minutes=59)) == "2 days 4 hours"
    assert format_duration(timedelta(days=1)) == "1 day"
    assert format_duration(timedelta(hours=3, minutes=5, seconds=30)) == "3 hours 5 minutes"
    assert format_duration(timedelta(hours=1)) == "1 hour"
    assert format_duration(timedelta(minutes=1, seconds=59)) == "1 minute"
    assert format_duration(timedelta(seconds=59)) == "less than a minute"
    with using_locale("fr"):
        assert format_duration(timedelta(days=2, hours=1)) == "2 jours 1 heure"


def test_the_countdown_follows_the_clock_before_during_and_after() -> None:
    before = countdown(
        timeline_state(TIMELINE, T0 - timedelta(days=2, hours=4)), T0 - timedelta(days=2, hours=4)
    )
    assert before is not None and before.text == "Idea submission opens in 2 days 4 hours"
    during_at = T0 + timedelta(days=9, hours=23, minutes=30)
    during = countdown(timeline_state(TIMELINE, during_at), during_at)
    assert during is not None and during.text == "Idea submission closes in 30 minutes"
    between_at = T0 + timedelta(days=10)
    between = countdown(timeline_state(TIMELINE, between_at), between_at)
    assert between is not None and between.text == "Voting opens in 2 days"
    after_at = T0 + timedelta(days=30)
    assert countdown(timeline_state(TIMELINE, after_at), after_at) is None


def test_the_countdown_uses_the_stage_title_even_with_percent_signs() -> None:
    named = [stage(0, StageKind.SUBMISSION, 0, 10)]
    named[0].title = "50% off %(time)s ideas"
    found = countdown(timeline_state(named, T0), T0)
    assert found is not None
    assert found.text == "50% off %(time)s ideas closes in 10 days"
    assert found.duration == "10 days"


def test_the_countdown_speaks_french() -> None:
    with using_locale("fr"):
        found = countdown(
            timeline_state(TIMELINE, T0 + timedelta(days=11)), T0 + timedelta(days=11)
        )
        assert found is not None and found.text == "Vote : ouverture dans 1 jour"


def test_phases_order_the_public_list() -> None:
    assert phase(timeline_state(TIMELINE, T0 + timedelta(days=1))) == Phase.ACTIVE
    assert phase(timeline_state(TIMELINE, T0 + timedelta(days=11))) == Phase.UPCOMING
    assert phase(timeline_state(TIMELINE, T0 + timedelta(days=40))) == Phase.FINISHED
    assert phase(timeline_state([], T0)) == Phase.EMPTY
