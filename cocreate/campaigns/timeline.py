"""The timeline state machine: pure functions of the stages and the clock, no database.

Which stage is current is never stored; it follows from now and the stages' opening and
closing times, so it cannot drift from the clock. Closing early or extending a stage edits
its times (audited by the service).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cocreate.campaigns.models import Stage, StageKind
from cocreate.i18n import gettext as _
from cocreate.i18n import ngettext


@dataclass(frozen=True)
class TimelineState:
    current: Stage | None  # the open stage, if any
    previous: Stage | None  # the last stage that has closed
    next: Stage | None  # the next stage to open
    next_change_at: datetime | None  # when `current` closes, or `next` opens

    @property
    def finished(self) -> bool:
        return self.current is None and self.next is None and self.previous is not None


class Phase(enum.IntEnum):
    """Where a campaign is, in the order the public list shows them."""

    ACTIVE = 0  # a stage is open
    UPCOMING = 1  # nothing open now, a stage will open
    FINISHED = 2  # every stage has closed
    EMPTY = 3  # no stage at all


def timeline_state(stages: Sequence[Stage], now: datetime) -> TimelineState:
    ordered = sorted(stages, key=lambda s: s.position)
    current = next((s for s in ordered if s.opens_at <= now < s.closes_at), None)
    previous = None
    for stage in ordered:
        if stage.closes_at <= now:
            previous = stage
    upcoming = next((s for s in ordered if s.opens_at > now), None)
    change: datetime | None = None
    if current is not None:
        change = current.closes_at
    elif upcoming is not None:
        change = upcoming.opens_at
    return TimelineState(current, previous, upcoming, change)


def phase(state: TimelineState) -> Phase:
    if state.current is not None:
        return Phase.ACTIVE
    if state.next is not None:
        return Phase.UPCOMING
    if state.previous is not None:
        return Phase.FINISHED
    return Phase.EMPTY


def is_open(stages: Sequence[Stage], kind: StageKind, now: datetime) -> Stage | None:
    """The open stage of `kind` at `now`, or None."""
    current = timeline_state(stages, now).current
    return current if current is not None and current.kind == kind else None


def has_opened(stages: Sequence[Stage], kind: StageKind, now: datetime) -> bool:
    """Whether a stage of `kind` has opened by `now` (open or closed since)."""
    return any(s.kind == kind and s.opens_at <= now for s in stages)


@dataclass(frozen=True)
class TimelineProblem:
    """One thing wrong with a timeline, and the (stage position, field) pairs it is about."""

    message: str
    about: tuple[tuple[int, str], ...] = ()


def timeline_issues(stages: Sequence[Stage]) -> list[TimelineProblem]:
    """Everything wrong with a timeline, each tied to the stage fields a form should mark."""
    problems: list[TimelineProblem] = []
    ordered = sorted(stages, key=lambda s: s.position)
    for stage in ordered:
        if stage.closes_at <= stage.opens_at:
            problems.append(
                TimelineProblem(
                    _("Stage %(n)d must close after it opens.") % {"n": stage.position + 1},
                    ((stage.position, "closes_at"),),
                )
            )
    for before, after in zip(ordered, ordered[1:], strict=False):
        if after.opens_at < before.closes_at:
            problems.append(
                TimelineProblem(
                    _("Stage %(n)d opens before stage %(m)d closes: stages must not overlap.")
                    % {"n": after.position + 1, "m": before.position + 1},
                    ((after.position, "opens_at"), (before.position, "closes_at")),
                )
            )
    kinds = [StageKind(s.kind) for s in ordered]
    for index, kind in enumerate(kinds):
        if kind == StageKind.VOTING and StageKind.SUBMISSION not in kinds[:index]:
            problems.append(
                TimelineProblem(
                    _(
                        "Voting stage %(n)d has no ideas to vote on: put a submission stage "
                        "before it."
                    )
                    % {"n": index + 1},
                    ((ordered[index].position, "kind"),),
                )
            )
    announcements = [s.position for s in ordered if s.kind == StageKind.ANNOUNCEMENT]
    if len(announcements) > 1:
        problems.append(
            TimelineProblem(
                _("A campaign has at most one announcement stage."),
                tuple((position, "kind") for position in announcements[1:]),
            )
        )
    if announcements and kinds[-1] != StageKind.ANNOUNCEMENT:
        problems.append(
            TimelineProblem(
                _("The announcement must be the last stage."),
                ((announcements[0], "kind"),),
            )
        )
    return problems


def timeline_problems(stages: Sequence[Stage]) -> list[str]:
    """Everything wrong with a timeline, in the user's language; empty when it is valid."""
    return [problem.message for problem in timeline_issues(stages)]


def swap_slots(first: Stage, second: Stage) -> tuple[tuple[datetime, datetime], ...]:
    """New (opens, closes) for `first` and `second` when they trade places in the timeline.

    Each keeps its own length and the gap between them stays, so the pair still covers the
    same span: moving a stage up never pushes the rest of the timeline around.
    """
    start, end = first.opens_at, second.closes_at
    gap = second.opens_at - first.closes_at
    second_length = second.closes_at - second.opens_at
    first_length = first.closes_at - first.opens_at
    new_second = (start, start + second_length)
    new_first = (start + second_length + gap, end)
    assert new_first[1] - new_first[0] == first_length
    return new_second, new_first


def stage_kind_label(kind: str) -> str:
    labels = {
        StageKind.SUBMISSION: _("Idea submission"),
        StageKind.VOTING: _("Voting"),
        StageKind.JURY: _("Jury review"),
        StageKind.ANNOUNCEMENT: _("Winners announced"),
    }
    try:
        return labels[StageKind(kind)]
    except ValueError:
        return kind


def stage_name(stage: Stage) -> str:
    """What the public calls a stage: its own title, or the name of its kind."""
    return stage.title or stage_kind_label(stage.kind)


def format_duration(delta: timedelta) -> str:
    """A countdown in words, two units at most: "2 days 4 hours", "35 minutes"."""
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return _("less than a minute")
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(ngettext("%(num)d day", "%(num)d days", days) % {"num": days})
        if hours:
            parts.append(ngettext("%(num)d hour", "%(num)d hours", hours) % {"num": hours})
    elif hours:
        parts.append(ngettext("%(num)d hour", "%(num)d hours", hours) % {"num": hours})
        if mins:
            parts.append(ngettext("%(num)d minute", "%(num)d minutes", mins) % {"num": mins})
    else:
        parts.append(ngettext("%(num)d minute", "%(num)d minutes", mins) % {"num": mins})
    return " ".join(parts)


_TIME = "\x00"  # marks where the duration goes; form input never contains NUL


@dataclass(frozen=True)
class Countdown:
    """ "Voting opens in 2 days 4 hours", in three pieces so a script can update the time."""

    before: str
    duration: str
    after: str
    target: datetime

    @property
    def text(self) -> str:
        return self.before + self.duration + self.after


def countdown(state: TimelineState, now: datetime) -> Countdown | None:
    """The next change of the timeline, in words; None when nothing will change."""
    if state.next_change_at is None:
        return None
    if state.current is not None:
        name = stage_name(state.current).replace(_TIME, "")
        sentence = _("%(stage)s closes in %(time)s") % {"stage": name, "time": _TIME}
    else:
        assert state.next is not None
        name = stage_name(state.next).replace(_TIME, "")
        sentence = _("%(stage)s opens in %(time)s") % {"stage": name, "time": _TIME}
    before, _sep, after = sentence.partition(_TIME)
    return Countdown(
        before, format_duration(state.next_change_at - now), after, state.next_change_at
    )
