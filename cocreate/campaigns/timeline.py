"""The timeline state machine: pure functions of the stages and the clock, no database.

Which stage is current is never stored; it follows from now and the stages' opening and
closing times, so it cannot drift from the clock. Closing early or extending a stage edits
its times (audited by the service).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cocreate.campaigns.models import Stage, StageKind
from cocreate.i18n import gettext as _


@dataclass(frozen=True)
class TimelineState:
    current: Stage | None  # the open stage, if any
    previous: Stage | None  # the last stage that has closed
    next: Stage | None  # the next stage to open
    next_change_at: datetime | None  # when `current` closes, or `next` opens

    @property
    def finished(self) -> bool:
        return self.current is None and self.next is None and self.previous is not None


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


def is_open(stages: Sequence[Stage], kind: StageKind, now: datetime) -> Stage | None:
    """The open stage of `kind` at `now`, or None."""
    current = timeline_state(stages, now).current
    return current if current is not None and current.kind == kind else None


def timeline_problems(stages: Sequence[Stage]) -> list[str]:
    """Everything wrong with a timeline, in the user's language; empty when it is valid."""
    problems: list[str] = []
    ordered = sorted(stages, key=lambda s: s.position)
    for stage in ordered:
        if stage.closes_at <= stage.opens_at:
            problems.append(_("Stage %(n)d must close after it opens.") % {"n": stage.position + 1})
    for before, after in zip(ordered, ordered[1:], strict=False):
        if after.opens_at < before.closes_at:
            problems.append(
                _("Stage %(n)d opens before stage %(m)d closes: stages must not overlap.")
                % {"n": after.position + 1, "m": before.position + 1}
            )
    kinds = [StageKind(s.kind) for s in ordered]
    for index, kind in enumerate(kinds):
        if kind == StageKind.VOTING and StageKind.SUBMISSION not in kinds[:index]:
            problems.append(
                _("Voting stage %(n)d has no ideas to vote on: put a submission stage before it.")
                % {"n": index + 1}
            )
    if kinds.count(StageKind.ANNOUNCEMENT) > 1:
        problems.append(_("A campaign has at most one announcement stage."))
    if StageKind.ANNOUNCEMENT in kinds and kinds[-1] != StageKind.ANNOUNCEMENT:
        problems.append(_("The announcement must be the last stage."))
    return problems
